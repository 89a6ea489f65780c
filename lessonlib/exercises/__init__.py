"""Self-checks for the lessons' exercises: one module per lesson (``lesson01``, ``lesson02``, …).

Each ``check_…`` function takes the learner's answer and returns a ``Feedback`` that says right or wrong
and why; printing it shows that verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Feedback:
    """The verdict of an exercise check."""

    correct: bool
    message: str

    def __str__(self) -> str:
        return ("✅ Right: " if self.correct else "❌ Not yet: ") + self.message

    def __bool__(self) -> bool:
        return self.correct


def as_number(answer: object) -> float | None:
    """A learner's answer as a finite float, or ``None`` when it is not one (text, bool, NaN, inf)."""
    if isinstance(answer, bool):
        return None
    try:
        value = float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
