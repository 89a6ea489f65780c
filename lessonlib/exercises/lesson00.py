"""Self-checks for notebook 00 (setup)."""

from __future__ import annotations

from sentence_transformers import SentenceTransformer

from lessonlib.datasets import RetrievalDataset
from lessonlib.exercises import Feedback


def check_device_order(answer: list[str]) -> Feedback:
    """Exercise 1: the order in which ``pick_device`` tries devices."""
    expected = ["cuda", "mps", "cpu"]
    got = [str(a).strip().lower() for a in answer]
    if got == expected:
        return Feedback(True, "CUDA first, then Apple's MPS, then the CPU, which always exists.")
    return Feedback(False, f"You gave {got}. Read lessonlib.environment.pick_device: which check comes first?")


#: The sentence pair of exercise 2.
GUITAR_PAIR = ("A man is playing guitar.", "A man plays the guitar.")


def check_similarity(answer: float, model: SentenceTransformer) -> Feedback:
    """Exercise 2: the learner's cosine similarity of ``GUITAR_PAIR``, against the one ``model`` gives."""
    if not isinstance(answer, int | float):
        return Feedback(False, f"Give the similarity as a number, not {type(answer).__name__}.")
    pair = model.encode(list(GUITAR_PAIR))
    expected = float(model.similarity(pair[:1], pair[1:])[0, 0])  # sentence-transformers' cosine
    if abs(answer - expected) <= 1e-3:
        return Feedback(True, f"{answer:.4f}: unit-length embeddings, so the dot product is the cosine.")
    if abs(answer) > 1:
        return Feedback(False, f"{answer:.4f} is outside [-1, 1]: did you normalise the embeddings?")
    return Feedback(False, f"{answer:.4f} is not what the model gives; encode both sentences with the same model.")


def count_multi_relevant(dataset: RetrievalDataset) -> int:
    """Number of queries in ``dataset`` with more than one relevant document (grade > 0)."""
    return sum(1 for docs in dataset.qrels.values() if sum(grade > 0 for grade in docs.values()) > 1)


def check_multi_relevant(answer: int, dataset: RetrievalDataset) -> Feedback:
    """Exercise 3: how many queries have more than one relevant document."""
    expected = count_multi_relevant(dataset)
    if answer == expected:
        return Feedback(True, f"{expected} of {len(dataset.qrels)} queries: most claims cite one abstract.")
    return Feedback(False, f"{answer} is not it. Count the queries in dataset.qrels with two or more documents.")
