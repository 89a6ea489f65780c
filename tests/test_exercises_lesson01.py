"""Lesson 01's exercise checks accept the right answers and explain the usual wrong ones."""

import math

import numpy as np

from lessonlib.exercises.lesson01 import (
    EXERCISE_SIMILARITIES,
    check_chance_loss,
    check_collapsed_space,
    check_info_nce_implementation,
    check_loss_by_hand,
    check_temperature_for_scale,
)


def test_temperature_for_scale():
    assert check_temperature_for_scale(0.02)
    wrong = check_temperature_for_scale(50)
    assert not wrong and "inverse" in wrong.message
    assert not check_temperature_for_scale("a lot")


def test_loss_by_hand():
    s = np.array(EXERCISE_SIMILARITIES) / 0.05
    right = -(s[0] - np.log(np.exp(s).sum()))
    assert check_loss_by_hand(right)
    assert "τ = 1" in check_loss_by_hand(-(s[0] * 0.05 - np.log(np.exp(s * 0.05).sum()))).message
    assert "sign" in check_loss_by_hand(-right).message
    assert "log2" in check_loss_by_hand(right / math.log(2)).message
    assert not check_loss_by_hand(0.5)


def test_chance_loss():
    assert check_chance_loss(math.log(64))
    assert "B(1 + K)" in check_chance_loss(math.log(32)).message
    assert "in-batch" in check_chance_loss(math.log(2)).message
    assert not check_chance_loss(None)


def test_collapsed_space():
    assert check_collapsed_space(0.0, 0.0)
    assert "Alignment is right" in check_collapsed_space(0, -4).message
    assert "Uniformity is right" in check_collapsed_space(4, 0).message
    assert not check_collapsed_space(2, -2)


def reference(q, p, tau):
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    p = p / np.linalg.norm(p, axis=1, keepdims=True)
    logits = q @ p.T / tau
    log_z = np.log(np.exp(logits).sum(axis=1))
    return float(np.mean(log_z - np.diag(logits)))


def test_info_nce_implementation():
    assert check_info_nce_implementation(reference)

    def no_normalising(q, p, tau):
        logits = q @ p.T / tau
        m = logits.max(1, keepdims=True)
        return float(np.mean(np.log(np.exp(logits - m).sum(1)) + m[:, 0] - np.diag(logits)))

    assert "Normalise" in check_info_nce_implementation(no_normalising).message
    assert "Average" in check_info_nce_implementation(lambda q, p, t: reference(q, p, t) * len(q)).message
    assert "temperature" in check_info_nce_implementation(lambda q, p, t: reference(q, p, 1.0)).message
    assert "raised" in check_info_nce_implementation(lambda q, p, t: 1 / 0).message
    assert not check_info_nce_implementation(lambda q, p, t: 0.0)
    assert not check_info_nce_implementation("not a function")
