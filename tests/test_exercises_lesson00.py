"""Self-checks of notebook 00: right answers pass, wrong ones fail with a reason."""

from conftest import write_beir
from lessonlib.datasets import load_beir
from lessonlib.exercises.lesson00 import (
    GUITAR_PAIR,
    check_device_order,
    check_multi_relevant,
    check_similarity,
    count_multi_relevant,
)


def test_device_order():
    assert check_device_order(["CUDA", "mps", "cpu"])
    feedback = check_device_order(["cpu", "cuda", "mps"])
    assert not feedback and "pick_device" in feedback.message


def test_similarity(minilm):
    pair = minilm.encode(list(GUITAR_PAIR), normalize_embeddings=True)
    right = float(pair[0] @ pair[1])
    assert check_similarity(right, minilm)
    assert not check_similarity(right - 0.05, minilm)
    assert "normalise" in check_similarity(3.2, minilm).message
    assert not check_similarity("0.89", minilm)


def test_multi_relevant(tmp_path):
    # q1 has two relevant documents; q2 has one relevant and one judged non-relevant (grade 0).
    qrels = {"test": [("q1", "d1", 1), ("q1", "d2", 2), ("q2", "d2", 1), ("q2", "d3", 0)]}
    data = load_beir(write_beir(tmp_path / "multi", qrels=qrels))
    assert count_multi_relevant(data) == 1
    assert check_multi_relevant(1, data)
    assert not check_multi_relevant(2, data)
