"""InfoNCE: equal to sentence-transformers' MNRL (scale = 1/τ), correct gradients, one math for both backends."""

import math

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

from lessonlib.contrastive import (
    DEFAULT_TEMPERATURE,
    candidate_probabilities,
    entropy,
    info_nce,
    info_nce_logits,
    scale_to_temperature,
    similarity_gradient,
    symmetric_info_nce,
    temperature_to_scale,
    validate_temperature,
)


def batch(b=6, d=16, k=0, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(b, d)).astype(dtype)
    p = (q + 0.8 * rng.normal(size=(b, d))).astype(dtype)  # positives correlate with their queries
    n = rng.normal(size=(b, k, d)).astype(dtype) if k else None
    return q, p, n


def mnrl_value(model, q, p, n, temperature, **kwargs):
    loss = MultipleNegativesRankingLoss(model, scale=1.0 / temperature, **kwargs)
    columns = [torch.from_numpy(q), torch.from_numpy(p)]
    if n is not None:
        columns += [torch.from_numpy(np.ascontiguousarray(n[:, j])) for j in range(n.shape[1])]
    return float(loss.compute_loss_from_embeddings(columns, labels=None))


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize("temperature", [0.01, 0.05, 0.2, 1.0])
def test_equals_sentence_transformers_mnrl_with_scale_one_over_tau(minilm, k, temperature):
    q, p, n = batch(b=8, d=32, k=k, seed=k)
    expected = mnrl_value(minilm, q, p, n, temperature)
    assert float(info_nce(q, p, n, temperature=temperature)) == pytest.approx(expected, abs=1e-5)
    as_torch = info_nce(
        torch.from_numpy(q), torch.from_numpy(p), None if n is None else torch.from_numpy(n), temperature=temperature
    )
    assert float(as_torch) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("k", [0, 2])
def test_symmetric_equals_mnrl_query_to_doc_and_doc_to_query_per_direction(minilm, k):
    q, p, n = batch(b=8, d=32, k=k, seed=10 + k)
    expected = mnrl_value(
        minilm, q, p, n, 0.05, directions=("query_to_doc", "doc_to_query"), partition_mode="per_direction"
    )
    assert float(symmetric_info_nce(q, p, n, temperature=0.05)) == pytest.approx(expected, abs=1e-5)


def test_default_temperature_is_mnrl_default_scale(minilm):
    assert MultipleNegativesRankingLoss(minilm).scale == temperature_to_scale(DEFAULT_TEMPERATURE) == 20.0
    assert scale_to_temperature(20) == DEFAULT_TEMPERATURE


@pytest.mark.parametrize("k", [0, 2])
@pytest.mark.parametrize("symmetric", [False, True])
def test_torch_gradient_matches_finite_differences(k, symmetric):
    q, p, n = batch(b=4, d=5, k=k, seed=3, dtype=np.float64)
    inputs = [torch.tensor(x, requires_grad=True) for x in (q, p, n) if x is not None]
    fn = symmetric_info_nce if symmetric else info_nce
    assert torch.autograd.gradcheck(lambda *xs: fn(*xs, temperature=0.1), inputs, eps=1e-6, atol=1e-6)


def test_numpy_and_torch_share_the_math():
    q, p, n = batch(b=5, d=7, k=2, seed=4, dtype=np.float64)
    tq, tp, tn = map(torch.from_numpy, (q, p, n))
    for fn in (info_nce, symmetric_info_nce):
        assert float(fn(q, p, n, temperature=0.07)) == pytest.approx(float(fn(tq, tp, tn, temperature=0.07)), abs=1e-12)
    np.testing.assert_allclose(
        info_nce_logits(q, p, n, temperature=0.07), info_nce_logits(tq, tp, tn, temperature=0.07).numpy()
    )


def test_logits_layout_is_positives_then_each_negative_column():
    q, p, n = batch(b=3, d=4, k=2, seed=5, dtype=np.float64)
    logits = info_nce_logits(q, p, n, temperature=0.5)
    assert logits.shape == (3, 9)

    def cos(a, b):
        return a @ b / np.linalg.norm(a) / np.linalg.norm(b)

    assert logits[1, 1] == pytest.approx(cos(q[1], p[1]) / 0.5)  # own positive on the diagonal
    assert logits[0, 2] == pytest.approx(cos(q[0], p[2]) / 0.5)  # another query's positive
    assert logits[2, 3 + 2] == pytest.approx(cos(q[2], n[2, 0]) / 0.5)  # own first hard negative
    assert logits[0, 6 + 1] == pytest.approx(cos(q[0], n[1, 1]) / 0.5)  # query 1's second hard negative


def test_loss_is_cross_entropy_of_the_logits():
    q, p, n = batch(b=4, d=6, k=1, seed=6, dtype=np.float64)
    logits = torch.from_numpy(info_nce_logits(q, p, n, temperature=0.05))
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(4))
    assert float(info_nce(q, p, n, temperature=0.05)) == pytest.approx(float(expected), abs=1e-10)


def test_two_dimensional_negatives_mean_one_per_query():
    q, p, n = batch(b=4, d=6, k=1, seed=7)
    assert float(info_nce(q, p, n[:, 0], temperature=0.1)) == pytest.approx(float(info_nce(q, p, n, temperature=0.1)))


def test_equal_similarities_give_log_of_the_number_of_candidates():
    q = np.tile([[1.0, 0.0]], (4, 1))
    n = np.tile([[[1.0, 0.0]]], (4, 3, 1))
    assert float(info_nce(q, q, n, temperature=0.05)) == pytest.approx(math.log(4 * 4))


vectors = arrays(
    np.float64, st.tuples(st.integers(2, 6), st.integers(2, 5)), elements=st.floats(-3, 3, allow_nan=False)
).filter(lambda x: np.all(np.linalg.norm(x, axis=1) > 1e-3))


@settings(max_examples=60, deadline=None)
@given(x=vectors, tau=st.floats(0.02, 5.0), seed=st.integers(0, 2**16))
def test_properties_non_negative_scale_and_permutation_invariant(x, tau, seed):
    rng = np.random.default_rng(seed)
    p = rng.normal(size=x.shape)
    loss = float(info_nce(x, p, temperature=tau))
    assert loss >= -1e-9
    # Cosine similarity ignores vector lengths.
    scaled = float(info_nce(3.0 * x, p * rng.uniform(0.5, 2.0, size=(len(p), 1)), temperature=tau))
    assert scaled == pytest.approx(loss, rel=1e-7, abs=1e-9)
    # Shuffling the pairs of a batch does not change the loss.
    order = rng.permutation(len(x))
    assert float(info_nce(x[order], p[order], temperature=tau)) == pytest.approx(loss, rel=1e-7, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(x=vectors, seed=st.integers(0, 2**16))
def test_high_temperature_tends_to_chance(x, seed):
    p = np.random.default_rng(seed).normal(size=x.shape)
    assert float(info_nce(x, p, temperature=1e4)) == pytest.approx(math.log(len(x)), abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(
    s=arrays(np.float64, st.integers(2, 8), elements=st.floats(-1, 1, allow_nan=False)).filter(
        lambda s: np.ptp(s) > 1e-3
    ),
    t1=st.floats(0.01, 2.0),
    factor=st.floats(1.1, 10.0),
)
def test_entropy_grows_with_temperature(s, t1, factor):
    low = entropy(candidate_probabilities(s, t1))
    high = entropy(candidate_probabilities(s, t1 * factor))
    assert high >= low - 1e-9
    assert high <= math.log(len(s)) + 1e-9


def test_probabilities_softmax_and_entropy_extremes():
    s = np.array([0.9, 0.5, 0.1])
    p = candidate_probabilities(s, 0.1)
    np.testing.assert_allclose(p, np.exp(s / 0.1) / np.exp(s / 0.1).sum())
    assert entropy(np.full(4, 0.25)) == pytest.approx(math.log(4))
    assert entropy(np.array([1.0, 0.0, 0.0])) == 0.0
    rows = candidate_probabilities(np.stack([s, s[::-1]]), 0.1)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)


def test_similarity_gradient_matches_autograd_and_sympy():
    s_values = np.array([0.62, 0.55, 0.31, 0.10])
    tau = 0.05
    ours = similarity_gradient(s_values, positive=0, temperature=tau)
    s = torch.tensor(s_values, requires_grad=True)
    (-torch.log_softmax(s / tau, dim=0)[0]).backward()
    np.testing.assert_allclose(ours, s.grad.numpy(), atol=1e-10)
    # Symbolically: d/ds_j of -log(exp(s_0/τ) / Σ_k exp(s_k/τ)) = (p_j - [j = 0]) / τ.
    syms = sympy.symbols("s0:4")
    t = sympy.Symbol("tau", positive=True)
    loss = -sympy.log(sympy.exp(syms[0] / t) / sum(sympy.exp(x / t) for x in syms))
    subs = {**dict(zip(syms, s_values, strict=True)), t: tau}
    symbolic = [float(sympy.diff(loss, x).subs(subs)) for x in syms]
    np.testing.assert_allclose(ours, symbolic, atol=1e-9)
    assert ours.sum() == pytest.approx(0.0, abs=1e-9)
    assert ours[0] < 0 < ours[3] < ours[2] < ours[1]  # the hardest negative is pushed hardest


@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), float("inf")])
def test_rejects_non_positive_or_non_finite_temperature(bad):
    q, p, _ = batch()
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        info_nce(q, p, temperature=bad)
    with pytest.raises(ValueError, match="temperature"):
        candidate_probabilities(np.array([0.1, 0.2]), bad)


def test_rejects_wrong_types_and_shapes():
    q, p, n = batch(b=4, d=6, k=2)
    with pytest.raises(TypeError, match="temperature"):
        validate_temperature("0.05")
    with pytest.raises(TypeError, match="not a mix"):
        info_nce(q, torch.from_numpy(p))
    with pytest.raises(ValueError, match="positives must have the queries' shape"):
        info_nce(q, p[:3])
    with pytest.raises(ValueError, match="queries must be 2-D"):
        info_nce(q[0], p[0])
    with pytest.raises(ValueError, match="negatives must have shape"):
        info_nce(q, p, n[:3])
    with pytest.raises(ValueError, match="negatives must have shape"):
        info_nce(q, p, n[:, :, :5])
    zero = q.copy()
    zero[1] = 0
    with pytest.raises(ValueError, match="all-zero vector"):
        info_nce(zero, p)
    nan = q.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        info_nce(nan, p)
    with pytest.raises(ValueError, match="positive must be an index"):
        similarity_gradient(np.array([0.1, 0.2]), positive=2, temperature=0.1)
    with pytest.raises(ValueError, match="scale must be"):
        scale_to_temperature(0)
    with pytest.raises(ValueError, match="sum to 1"):
        entropy(np.array([0.5, 0.6]))


# --- half precision: what a model returns under autocast --------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("loss", [info_nce, symmetric_info_nce])
def test_half_precision_tensors_are_computed_in_float32(dtype, loss):
    # Norms near 400: in float16 the squared norm overflowed, every cosine became 0 and the loss log B with
    # zero gradients; bfloat16 crashed with a raw TypeError.
    q, p, n = (torch.from_numpy(x) * 25 for x in batch(b=4, d=256, k=2))
    assert float(q.norm(dim=1).min()) > 300 and float(q.norm(dim=1).max()) < 500
    q_half = q.to(dtype).requires_grad_()
    value = loss(q_half, p.to(dtype), n.to(dtype), temperature=0.05)
    reference = loss(q.to(dtype).float(), p.to(dtype).float(), n.to(dtype).float(), temperature=0.05)
    assert value.dtype == torch.float32
    assert value.item() == pytest.approx(reference.item(), rel=1e-5)
    assert abs(value.item() - math.log(4 * 3)) > 0.5  # not the all-zero-cosine "chance" value
    value.backward()
    assert q_half.grad.dtype == dtype and float(q_half.grad.abs().sum()) > 0
    logits = info_nce_logits(q.to(dtype), p.to(dtype), temperature=1.0)
    assert float(logits.abs().max()) <= 1.0 + 1e-5 and float(logits.abs().max()) > 0.1
    probabilities = candidate_probabilities(logits, 0.05)
    assert probabilities.dtype == torch.float32
    torch.testing.assert_close(probabilities.sum(dim=1), torch.ones(4))


def test_unchecked_info_nce_equals_the_checked_one_and_skips_the_checks(monkeypatch):
    import lessonlib.contrastive as contrastive

    rng = np.random.default_rng(0)
    q, p, n = (torch.from_numpy(rng.normal(size=shape)) for shape in [(4, 6), (4, 6), (4, 2, 6)])
    for negatives in (None, n, n[:, 0, :]):
        checked = info_nce(q, p, negatives, temperature=0.05)
        unchecked = info_nce(q, p, negatives, temperature=0.05, check_input=False)
        assert float(unchecked) == pytest.approx(float(checked), abs=1e-12)
    monkeypatch.setattr(contrastive, "_check_batch", lambda *a: pytest.fail("checked although check_input=False"))
    info_nce(q, p, temperature=0.05, check_input=False)
