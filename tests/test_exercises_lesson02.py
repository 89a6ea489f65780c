"""Lesson 02's bootstrap exercise check accepts a right interval and explains the usual wrong ones."""

import numpy as np

from lessonlib.exercises.lesson02 import check_bootstrap_interval


def percentile_bootstrap(diffs, seed=0):
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), size=(9999, len(diffs)))].mean(axis=1)
    return tuple(np.percentile(means, [2.5, 97.5]))


def test_a_percentile_bootstrap_passes_with_any_seed():
    assert check_bootstrap_interval(percentile_bootstrap)
    assert check_bootstrap_interval(lambda diffs, seed: percentile_bootstrap(diffs, seed + 123))


def test_percentiles_of_the_differences_themselves_get_the_hint():
    feedback = check_bootstrap_interval(lambda diffs, seed: tuple(np.percentile(diffs, [2.5, 97.5])))
    assert not feedback and "percentiles of the differences themselves" in feedback.message


def test_wrong_width_placeholders_and_errors_are_refused():
    # A normal interval with the standard deviation instead of the standard error is far too wide.
    too_wide = check_bootstrap_interval(lambda d, s: (d.mean() - 1.96 * d.std(), d.mean() + 1.96 * d.std()))
    assert not too_wide and "expected about" in too_wide.message
    assert not check_bootstrap_interval(lambda d, s: (0.0, 0.0))
    assert "raised ZeroDivisionError" in check_bootstrap_interval(lambda d, s: (1 / 0, 0)).message
    assert "Return two numbers" in check_bootstrap_interval(lambda d, s: d.mean()).message
    assert not check_bootstrap_interval("my_interval")
