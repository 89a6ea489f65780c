"""The cost model: memory by hand for every layout, and within a few per cent of FAISS' serialised indexes."""

import numpy as np
import pytest

from lessonlib.costs import LAYOUTS, cost_table, default_nlist, estimate_bytes
from lessonlib.indexing import build_flat, build_hnsw, build_ivf, build_ivfpq, sample_like
from lessonlib.validation import InvalidParameterError


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((500, 32)) * np.linspace(2.0, 0.2, 32) + 0.3
    return None, sample_like(reference, 2000, seed=1), None


def test_cost_model_by_hand():
    # 1 M × 384 float32 = 1.536 GB; int8 a quarter; binary 48 bytes a vector
    table = cost_table(384, [10**6, 10**7, 10**9], M=32, m=48, nbits=8)
    assert list(table.index) == list(LAYOUTS) and list(table.columns) == ["bytes_per_vector", "1M", "10M", "1B"]
    assert table.loc["flat", "1M"] == 1_536_000_000 and table.loc["flat", "1B"] == 1_536_000_000_000
    assert table.loc["flat-int8", "1M"] == 384_000_000 + 2 * 384 * 4
    assert table.loc["binary", "10M"] == 480_000_000
    assert table.loc["hnsw", "bytes_per_vector"] == 1536 + 2 * 32 * 4 == 1792
    assert table.loc["hnsw", "1B"] == 1792 * 10**9
    assert table.loc["ivf", "1M"] == 10**6 * (1536 + 8) + 4000 * 384 * 4  # default_nlist(1M) = 4000
    assert table.loc["ivfpq", "bytes_per_vector"] == 48 + 8
    assert table.loc["ivfpq", "1B"] == 10**9 * 56 + default_nlist(10**9) * 384 * 4 + 256 * 384 * 4
    assert default_nlist(10**6) == 4000 and default_nlist(1) == 1 and default_nlist(9) == 9 and default_nlist(100) == 40


@pytest.mark.parametrize(
    ("layout", "build", "params"),
    [
        ("flat", lambda docs: build_flat(docs), {}),
        ("hnsw", lambda docs: build_hnsw(docs, M=16), {"M": 16}),
        ("ivf", lambda docs: build_ivf(docs, nlist=16), {"nlist": 16}),
        ("ivfpq", lambda docs: build_ivfpq(docs, nlist=16, m=8, nbits=6), {"nlist": 16, "m": 8, "nbits": 6}),
    ],
)
def test_the_estimate_is_within_ten_per_cent_of_the_serialised_index(corpus, layout, build, params):
    _, docs, _ = corpus
    measured = build(docs).memory_bytes
    estimate = estimate_bytes(layout, len(docs), docs.shape[1], **params)
    assert 0.9 * measured <= estimate <= 1.02 * measured


def test_bad_input_is_named():
    with pytest.raises(InvalidParameterError, match=r"layout must be one of flat, flat-int8"):
        estimate_bytes("lsh", 10, 8)
    with pytest.raises(InvalidParameterError, match=r"n_documents is empty"):
        cost_table(384, [])
