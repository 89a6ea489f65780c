"""Similarity: the identities behind "normalise, then cosine is a dot product", as hypothesis properties.

Tolerances (float32). Unit roundoff u = 2**-24 ≈ 6.0e-8. A float32 inner product of length d errs by at
most γ_d·|x|·|y| with γ_d ≈ d·u (Higham, *Accuracy and Stability of Numerical Algorithms*, 2002, §3.1);
for unit vectors |x|·|y| ≤ ‖x‖‖y‖ = 1. Normalising adds at most about (d/2 + 3)·u relative error per
component (sum of squares, square root, two divisions), i.e. (d + 6)·u to a dot product of two unit
vectors. Cosine from scratch and the dot of normalised vectors are then each within about (2d + 8)·u of
the exact cosine, so they differ by at most (4d + 16)·u; scaling an input by α adds one rounding per
component. ``tol(d) = 8·(d + 4)·u`` covers all of this with room to spare (1.7e-5 at d = 32). These are
worst-case a-priori bounds, so the tests do not flake; a broken identity errs by 1e-2 or more.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lessonlib.similarity import METRICS, cosine, dot, normalise, norms, scores, squared_l2, top_k

U = float(np.finfo(np.float32).eps) / 2  # unit roundoff of float32: 2**-24


def tol(d: int) -> float:
    """Absolute tolerance for a float32 similarity of d-dimensional vectors (derivation in the docstring)."""
    return 8 * (d + 4) * U


FLOATS = st.floats(-1e3, 1e3, width=32, allow_subnormal=False)


@st.composite
def matrices(draw, n=None, d=None):
    """A float32 (n, d) matrix with no zero row (cosine is undefined for a zero vector)."""
    n = draw(st.integers(1, 6)) if n is None else n
    d = draw(st.integers(1, 32)) if d is None else d
    rows = draw(hnp.arrays(np.float32, (n, d), elements=FLOATS))
    return rows[np.abs(rows).max(axis=1) > 0] if (np.abs(rows).max(axis=1) > 0).any() else np.ones((1, d), "f4")


@st.composite
def pairs(draw):
    """Queries (n, d) and documents (m, d) of one width."""
    d = draw(st.integers(1, 32))
    return draw(matrices(d=d)), draw(matrices(d=d))


PROPERTY = settings(deadline=None, max_examples=200)


# --- the identities ------------------------------------------------------------------------------------------


@PROPERTY
@given(matrices())
def test_normalised_rows_have_unit_norm_and_keep_direction(x):
    unit = normalise(x)
    assert unit.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(unit.astype(np.float64), axis=1), 1, atol=tol(x.shape[1]))
    # Same direction: the normalised row is a positive multiple of the original.
    np.testing.assert_allclose(cosine(unit, x).diagonal(), 1, atol=tol(x.shape[1]))


@PROPERTY
@given(pairs())
def test_cosine_equals_dot_of_normalised_vectors(pair):
    """cos(u, v) = û · v̂."""
    a, b = pair
    np.testing.assert_allclose(cosine(a, b), dot(normalise(a), normalise(b)), atol=tol(a.shape[1]), rtol=0)


@PROPERTY
@given(pairs())
def test_cosine_matches_float64_reference(pair):
    a, b = pair
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    exact = (a64 @ b64.T) / np.outer(np.linalg.norm(a64, axis=1), np.linalg.norm(b64, axis=1))
    np.testing.assert_allclose(cosine(a, b), exact, atol=tol(a.shape[1]), rtol=0)


@PROPERTY
@given(pairs(), st.floats(1e-3, 1e3), st.floats(1e-3, 1e3))
def test_cosine_is_invariant_to_positive_scaling(pair, alpha, beta):
    a, b = pair
    a_scaled, b_scaled = np.float32(alpha) * a, np.float32(beta) * b
    # Scaling into float32's subnormal range (below 1.2e-38) is itself lossy: the scaled vector already
    # points elsewhere (e.g. 1.1754944e-38 x 0.001 keeps 4 significant digits), so invariance cannot hold.
    tiny = np.finfo(np.float32).tiny
    assume(not np.any((a_scaled != 0) & (np.abs(a_scaled) < tiny)))
    assume(not np.any((b_scaled != 0) & (np.abs(b_scaled) < tiny)))
    scaled = cosine(a_scaled, b_scaled)
    np.testing.assert_allclose(scaled, cosine(a, b), atol=tol(a.shape[1]), rtol=0)


@PROPERTY
@given(pairs())
def test_squared_l2_of_unit_vectors_is_two_minus_two_cosine(pair):
    """‖û − v̂‖² = 2 − 2 cos(u, v); the expansion's error doubles the tolerance."""
    a, b = pair
    np.testing.assert_allclose(
        squared_l2(normalise(a), normalise(b)), 2 - 2 * cosine(a, b), atol=2 * tol(a.shape[1]), rtol=0
    )


@PROPERTY
@given(pairs())
def test_squared_l2_matches_the_direct_definition(pair):
    a, b = pair
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    direct = ((a64[:, None, :] - b64[None, :, :]) ** 2).sum(axis=2)
    # The expansion's error is relative to ‖a‖² + ‖b‖², not to the (possibly tiny) distance itself; and a
    # distance below float32's smallest normal number (1.2e-38) cannot be told from 0 in float32 at all
    # (hypothesis found rows of 1.1754944e-38, whose squares underflow).
    scale = (a64**2).sum(axis=1)[:, None] + (b64**2).sum(axis=1)[None, :]
    floor = np.finfo(np.float32).tiny
    assert np.all(np.abs(squared_l2(a, b) - direct) <= 2 * tol(a.shape[1]) * scale + floor)


def assert_order_is_cosine_descending(order, cos, atol):
    """``order`` (doc indices, best first) sorts ``cos`` descending, up to ``atol`` (near-ties may swap)."""
    ranked = cos[order]
    assert np.all(ranked[:-1] >= ranked[1:] - atol), (order, cos)
    assert sorted(order.tolist()) == list(range(len(cos)))


@PROPERTY
@given(pairs())
def test_ranking_by_dot_on_unit_vectors_is_the_ranking_by_cosine(pair):
    a, b = pair
    _, by_dot = top_k(normalise(a), normalise(b), k=len(b), metric="dot")
    cos = cosine(a, b)
    for row in range(len(a)):
        assert_order_is_cosine_descending(by_dot[row], cos[row], 2 * tol(a.shape[1]))


@PROPERTY
@given(pairs())
def test_nearest_neighbours_by_l2_on_unit_vectors_are_those_by_cosine(pair):
    a, b = pair
    _, by_l2 = top_k(normalise(a), normalise(b), k=len(b), metric="l2")
    cos = cosine(a, b)
    for row in range(len(a)):
        # d² = 2 − 2cos: an L2 error of 2·tol is a cosine error of tol, plus cosine's own tol.
        assert_order_is_cosine_descending(by_l2[row], cos[row], 3 * tol(a.shape[1]))


@PROPERTY
@given(pairs(), st.sampled_from(METRICS))
def test_top_k_returns_the_best_scores_in_order(pair, metric):
    a, b = pair
    k = max(1, len(b) // 2)
    best, idx = top_k(a, b, k=k, metric=metric)
    full = scores(a, b, metric)
    np.testing.assert_array_equal(best, np.take_along_axis(full, idx, axis=1))
    sign = 1 if metric == "l2" else -1
    expected = np.sort(sign * full, axis=1)[:, :k] * sign
    np.testing.assert_array_equal(best, expected)


def test_identical_rankings_on_well_separated_random_embeddings():
    """At realistic size (2,000 docs, d = 384) the three rankings of unit vectors agree exactly at the top."""
    rng = np.random.default_rng(0)
    docs = normalise(rng.normal(size=(2000, 384)).astype(np.float32))
    queries = normalise(rng.normal(size=(20, 384)).astype(np.float32))
    _, by_cos = top_k(queries, docs, k=10, metric="cosine")
    _, by_dot = top_k(queries, docs, k=10, metric="dot")
    _, by_l2 = top_k(queries, docs, k=10, metric="l2")
    np.testing.assert_array_equal(by_dot, by_cos)
    np.testing.assert_array_equal(by_l2, by_cos)


def test_raw_dot_product_ranks_a_long_vector_first():
    """The counterexample the lesson starts from: without normalisation, length beats direction."""
    query = np.array([1.0, 0.0])
    docs = np.array([[0.9, 0.1], [3.0, 3.0]])  # doc 0 points the query's way, doc 1 is long
    assert top_k(query, docs, k=1, metric="cosine")[1][0, 0] == 0
    assert top_k(query, docs, k=1, metric="dot")[1][0, 0] == 1


# --- exact values, shapes and dtypes -------------------------------------------------------------------------


def test_known_values():
    u, v = np.array([3.0, 4.0]), np.array([4.0, 3.0])
    assert float(norms(u)) == 5.0
    np.testing.assert_allclose(normalise(u), [0.6, 0.8])
    assert float(dot(u, v)) == 24.0
    assert float(cosine(u, v)) == pytest.approx(24 / 25)
    assert float(squared_l2(u, v)) == pytest.approx(2.0)
    assert float(cosine(u, -2 * u)) == pytest.approx(-1.0)


def test_shapes_follow_matmul():
    m, v = np.ones((3, 4)), np.ones(4)
    assert cosine(m, m).shape == (3, 3)
    assert cosine(v, m).shape == (3,)
    assert cosine(m, v).shape == (3,)
    assert cosine(v, v).shape == ()
    assert normalise(v).shape == (4,)
    assert norms(m).shape == (3,)
    assert top_k(v, m, k=2)[1].shape == (1, 2)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_floating_dtypes_are_preserved(dtype):
    x = np.array([[1, 2], [3, 4]], dtype=dtype)
    for result in (normalise(x), norms(x), cosine(x, x), dot(x, x), squared_l2(x, x)):
        assert result.dtype == dtype


def test_integers_become_float64_and_pairs_use_the_common_dtype():
    assert normalise(np.array([3, 4])).dtype == np.float64
    assert cosine(np.ones(2, np.float16), np.ones(2, np.float32)).dtype == np.float32


def test_norms_do_not_overflow_or_underflow_in_float32():
    big = np.array([[3e20, 4e20]], dtype=np.float32)  # squares overflow float32 (max 3.4e38)
    tiny = np.array([[3e-25, 4e-25]], dtype=np.float32)  # squares underflow to 0
    np.testing.assert_allclose(normalise(big), [[0.6, 0.8]], rtol=1e-6)
    np.testing.assert_allclose(normalise(tiny), [[0.6, 0.8]], rtol=1e-6)
    assert float(norms(big[0])) == pytest.approx(5e20, rel=1e-6)


def test_ties_are_broken_by_the_lower_index():
    docs = np.array([[1.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    assert top_k([1.0, 0.0], docs, k=3, metric="cosine")[1].tolist() == [[0, 1, 2]]
    assert top_k([1.0, 0.0], docs, k=3, metric="dot")[1].tolist() == [[1, 0, 2]]
    assert top_k([1.0, 0.0], docs, k=3, metric="l2")[1].tolist() == [[0, 2, 1]]


def test_k_is_capped_at_the_number_of_documents():
    best, idx = top_k(np.eye(2), np.eye(2), k=100)
    assert best.shape == idx.shape == (2, 2)


# --- one validation path, errors that say what and where ----------------------------------------------------


def test_zero_vector_is_an_error_naming_its_row():
    x = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"zero vector\(s\) in row\(s\) 1"):
        normalise(x)
    with pytest.raises(ValueError, match=r"b has zero vector\(s\) in row\(s\) 1"):
        cosine(np.ones(2), x)
    with pytest.raises(ValueError, match=r"docs has zero vector"):
        top_k(np.ones(2), x, metric="cosine")
    assert dot(np.ones(2), x).tolist() == [1.0, 0.0, 1.0]  # the dot product is defined for it


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(
    "fn", [normalise, norms, lambda x: cosine(x, x), lambda x: dot(x, x), lambda x: squared_l2(x, x)]
)
def test_nan_and_inf_are_errors_naming_the_row(bad, fn):
    x = np.ones((4, 3))
    x[2, 1] = bad
    with pytest.raises(ValueError, match=r"NaN or inf in row\(s\) 2"):
        fn(x)


def test_many_bad_rows_are_summarised():
    with pytest.raises(ValueError, match=r"row\(s\) 0, 1, 2, 3, 4, … \(9 rows in all\)"):
        normalise(np.zeros((9, 2)))


def test_mismatched_widths_empty_inputs_and_wrong_types_are_explained():
    with pytest.raises(ValueError, match="a has width 3 but b has width 4"):
        cosine(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="empty"):
        normalise(np.ones((0, 3)))
    with pytest.raises(ValueError, match=r"vector \(d,\) or a matrix \(n, d\)"):
        normalise(np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="numeric"):
        normalise(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="complex"):
        normalise(np.array([1j, 1.0]))


def test_metric_and_k_are_checked():
    with pytest.raises(ValueError, match="metric must be one of cosine, dot, l2; got 'euclid'"):
        top_k(np.ones(2), np.ones((2, 2)), metric="euclid")
    with pytest.raises(ValueError, match="k must be a positive integer"):
        top_k(np.ones(2), np.ones((2, 2)), k=0)
    with pytest.raises(ValueError, match=r"docs must be a matrix"):
        top_k(np.ones(2), np.ones(2))


# --- lesson 03's exercise checks (kept here: this lesson's files are the ones its engineer may touch) -------


def test_exercise_checks_accept_right_answers_and_explain_wrong_ones():
    from lessonlib.exercises import lesson03 as ex

    assert ex.check_cosine_by_hand(0.96) and ex.check_cosine_by_hand(24 / 25)
    wrong = ex.check_cosine_by_hand(24)
    assert not wrong and "‖u‖‖v‖" in wrong.message
    assert not ex.check_cosine_by_hand(None) and not ex.check_cosine_by_hand(float("nan"))
    assert ex.check_scaling_prediction({"cosine": False, "dot": True})
    assert "divides by the norm" in ex.check_scaling_prediction({"cosine": True, "dot": True}).message
    assert "grows with the norm" in ex.check_scaling_prediction({"cosine": False, "dot": False}).message
    assert not ex.check_scaling_prediction({"cosine": "no", "dot": True})
    assert not ex.check_scaling_prediction(None)
    assert ex.check_l2_from_cosine(0.4) and not ex.check_l2_from_cosine(0.2)
    assert ex.check_mean_norm(0.7071) and not ex.check_mean_norm(0.5) and not ex.check_mean_norm(True)
    assert str(ex.check_mean_norm(0.5)).startswith("❌ Not yet: ")


def test_normalise_exercise_check_catches_the_usual_mistakes():
    from lessonlib.exercises import lesson03 as ex

    assert ex.check_normalise(normalise)

    def by_l1(x):
        return x / np.abs(x).sum(axis=1, keepdims=True)

    def whole_array(x):
        return x / np.linalg.norm(x)

    def float64_always(x):
        return x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)

    def nan_for_zero(x):
        with np.errstate(invalid="ignore", divide="ignore"):
            return x / np.linalg.norm(x, axis=1, keepdims=True)

    def flattens(x):
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).ravel()

    assert "row lengths" in ex.check_normalise(by_l1).message
    assert "row lengths" in ex.check_normalise(whole_array).message
    assert "dtype float64 for a float32 input" in ex.check_normalise(float64_always).message
    assert "NaN" in ex.check_normalise(nan_for_zero).message
    assert "shape" in ex.check_normalise(flattens).message
    assert "pass your function" in ex.check_normalise("normalise").message


# --- float16: norms computed in float32, a result float16 cannot hold is an error, never 0 or inf ----------


def test_float16_rows_whose_squared_norm_overflows_still_normalise():
    # ‖(60000, 60000)‖ = 84853 > 65504: in float16 the norm was inf and the unit vector (0, 0).
    x = np.array([60000, 60000], dtype=np.float16)
    unit = normalise(x)
    assert unit.dtype == np.float16
    np.testing.assert_allclose(unit, [2**-0.5, 2**-0.5], rtol=1e-3)
    b = np.full(384, 3400, np.float16)  # norm 66,624: was cosine(b, b) == 0.0
    assert float(cosine(b, b)) == pytest.approx(1.0, abs=1e-3)
    assert float(scores(b, np.stack([b, -b]))[0]) == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_array_equal(top_k(b, np.stack([-b, b]), k=1)[1], [[1]])


def test_float16_results_that_do_not_fit_float16_are_refused_by_name():
    x = np.array([60000, 60000], dtype=np.float16)
    b = np.full(384, 3400, np.float16)
    for call, what in [
        (lambda: norms(x), "norms of x"),
        (lambda: dot(b, b), "dot products of a and b"),
        (lambda: squared_l2(b, -b), "squared distances between a and b"),
        (lambda: scores(b, b, metric="dot"), "dot products of queries and docs"),
    ]:
        with pytest.raises(ValueError) as err:
            call()
        assert str(err.value).startswith(f"{what} exceed float16's largest value (65504)")
        assert "pass the input as float32" in str(err.value)
    # In range, float16 distances are computed without the intermediate overflow (which gave inf - inf = nan).
    a = np.full(384, 30, np.float16)  # squared norm 345,600 overflows float16; the distance (0) does not
    assert float(squared_l2(a, a)) == 0.0
    assert float(norms(np.full(384, 3, np.float16))) == pytest.approx(58.79, abs=0.05)
