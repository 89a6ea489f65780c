"""Claims checks for lesson 03 (normalisation, cosine and dot).

Section 5 times cosine similarity computed from scratch against the dot product on pre-normalised vectors.
Timings vary with the machine and its load, so that cell's output is not compared; ``similarity_speed``
asserts what the prose draws from it, with bounds well inside what was measured.
"""

from __future__ import annotations

import pandas as pd

from lessonlib.claims import Report, at_least, check, exceeds

FROM_SCRATCH = "cosine from scratch (numpy)"
PRE_NORMALISED = "dot on pre-normalised (numpy)"
CHECKED_DOT = "lessonlib dot(q̂, corpus_unit)"


def similarity_speed(timings: pd.DataFrame) -> Report:
    """Section 5: cosine from scratch against the dot product on unit vectors, 100,000 × 384 float32.

    Parameters
    ----------
    timings : DataFrame
        Columns ``queries``, ``method`` and ``best ms`` (the best of several repeats), with the methods
        ``FROM_SCRATCH``, ``PRE_NORMALISED`` and ``CHECKED_DOT`` for 1 and 256 queries, as section 5 builds it.

    Measured (best of 5 × 3 runs): one query, cosine from scratch 6.7 to 8.4 times the pre-normalised dot
    product, 256 queries 1.6 to 2.1 times; lessonlib's input checks added 3.4 to 4.5 times one query's dot
    product. Two 2-core machines (one with AMX and AVX512-BF16, one without), idle and under load, and with
    AVX2-only kernels.
    """
    missing = [c for c in ("queries", "method", "best ms") if c not in timings.columns]
    if missing:
        raise ValueError(f"timings lacks the columns {missing}; build it as section 5 of lesson 03 does.")
    best = timings.set_index(["queries", "method"])["best ms"]
    try:
        ratio_1 = best[(1, FROM_SCRATCH)] / best[(1, PRE_NORMALISED)]
        ratio_256 = best[(256, FROM_SCRATCH)] / best[(256, PRE_NORMALISED)]
        checks_1 = (best[(1, CHECKED_DOT)] - best[(1, PRE_NORMALISED)]) / best[(1, PRE_NORMALISED)]
    except KeyError as err:
        raise ValueError(f"timings has no row for {err.args[0]}: time every method for 1 and 256 queries.") from None
    return check(
        at_least(
            "for one query, cosine from scratch is at least twice as slow as the dot product on unit vectors",
            ratio_1,
            2.0,
            what="one query's time ratio",
            unit="x",
        ),
        exceeds(
            "with 256 queries per pass the gap shrinks",
            ratio_1,
            ratio_256,
            what_a="one query's ratio",
            what_b="256 queries' ratio",
            unit="x",
        ),
        at_least(
            "checking the whole corpus on every call costs at least half of one query's dot product",
            checks_1,
            0.5,
            what="lessonlib's extra time over the bare dot product, in units of that product",
            unit="x",
        ),
        source="lesson03.similarity_speed",
    )
