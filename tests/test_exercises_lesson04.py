"""Lesson 04's exercise checks."""

import pytest
import torch


def test_check_infonce_matches_the_library_loss(minilm):
    """The exercise's reference is MultipleNegativesRankingLoss itself, computed on fixed embeddings."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from lessonlib.exercises.lesson04 import check_infonce

    def ours(q, p, scale):
        sims = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(p, dim=1).T
        return torch.nn.functional.cross_entropy(scale * sims, torch.arange(len(q)))

    generator = torch.Generator().manual_seed(1)
    q, p = torch.randn(4, 8, generator=generator), torch.randn(4, 8, generator=generator)
    library = MultipleNegativesRankingLoss(minilm, scale=20.0).compute_loss_from_embeddings([q, p], None)
    assert float(library) == pytest.approx(float(ours(q, p, 20.0)), abs=1e-5)
    assert check_infonce(ours)
    assert not check_infonce(
        lambda q, p, scale: torch.nn.functional.cross_entropy(scale * q @ p.T, torch.arange(len(q)))
    )
