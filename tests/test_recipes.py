"""The recipes page (docs/recipes.md): its runner's wiring, and each recipe's numbers against lessonlib's path.

The page runs with its own Sybil configuration (docs/conftest.py) in one namespace; these tests read the recipes'
results from that namespace and recompute them with lessonlib on the same input.
"""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import write_beir
from lessonlib.contrastive import info_nce
from lessonlib.datasets import load_beir
from lessonlib.embeddings import encode
from lessonlib.evaluation import evaluate
from lessonlib.metrics import paired_difference, score
from lessonlib.models import load_model
from lessonlib.pairs import add_hard_negatives
from lessonlib.retrieval import dense_search
from lessonlib.retrievers import BM25Retriever, DenseRetriever
from lessonlib.training import TrainingSettings, fine_tune

# The recipes fixture runs the whole page, which loads a model and fine-tunes it for a step.
pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "recipes.md"
RUNNER = ROOT / "docs" / "conftest.py"


def _runner():
    spec = importlib.util.spec_from_file_location("recipes_runner", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recipes() -> dict:
    """Every block of the page run in order, as the docs tests run it; the namespace the recipes leave."""
    runner = _runner()
    document = runner.RECIPES.parse(PAGE)
    runner.setup(document.namespace)
    examples = list(document)
    for example in examples:
        example.evaluate()  # raises on an error or an output that differs from the page
    document.namespace["_blocks_run"] = len(examples)
    return document.namespace


@pytest.fixture(scope="module")
def toy_folder(recipes, tmp_path_factory) -> Path:
    """The recipes' toy data written as a BEIR folder, for lessonlib's loader."""
    rows = [(q, d, g) for q, docs in recipes["qrels"].items() for d, g in docs.items()]
    return write_beir(
        tmp_path_factory.mktemp("toy"),
        corpus=[{"_id": i, **d} for i, d in recipes["corpus"].items()],
        queries=[{"_id": i, "text": t} for i, t in recipes["queries"].items()],
        qrels={"test": rows},
    )


@pytest.fixture(scope="module")
def base_model(recipes):
    return load_model(recipes["MODEL"])


# ------------------------------------------------------------------------------------------------ the runner


def test_make_test_collects_the_recipes():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "docs" in config["testpaths"]
    runner = _runner()
    assert runner.RECIPES.should_parse(PAGE)
    assert not runner.RECIPES.should_parse(ROOT / "README.md")  # its blocks are shell commands
    assert callable(runner.pytest_collect_file)


def test_every_block_of_the_page_runs(recipes):
    blocks = PAGE.read_text().count("```python")
    outputs = PAGE.read_text().count("```text")
    assert recipes["_blocks_run"] == blocks + outputs
    assert outputs >= 8


def test_a_block_with_an_error_fails(pytester):
    pytester.makeconftest(RUNNER.read_text())
    pytester.makefile(
        ".md",
        page="""
# A page

```python
x = 2
print(x + 1)
```

```text
3
```

```python
1 / 0
```

```python
print("something else")
```

```text
something
```

```python
print("shown nowhere")
```

```python
y = 1
```
""",
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=3)
    result.stdout.fnmatch_lines(["*ZeroDivisionError*"])
    result.stdout.fnmatch_lines(["*but the page shows*"])
    result.stdout.fnmatch_lines(["*printed output but no ```text block shows it*"])


# ------------------------------------------------------------------------------- recipes against lessonlib


def test_recipe_1_search_gives_lessonlib_hits(recipes, base_model):
    texts = [(d["title"] + " " + d["text"]).strip() for d in recipes["corpus"].values()]
    docs = encode(base_model, texts, cache=False, progress=False)
    queries = encode(base_model, list(recipes["queries"].values()), cache=False, progress=False)
    scores, indices = dense_search(queries, docs, top_k=2)
    hits = recipes["hits"]
    assert [[h["corpus_id"] for h in row] for row in hits] == indices.tolist()
    np.testing.assert_allclose([[h["score"] for h in row] for row in hits], scores, atol=1e-6)


def test_recipe_2_ndcg_is_lessonlib_evaluate(recipes, toy_folder, base_model):
    result = evaluate(DenseRetriever(base_model, cache=False, progress=False), load_beir(toy_folder))
    assert recipes["ndcg"] == pytest.approx(result.metrics["ndcg@10"], abs=1e-9)
    for qid, value in recipes["per_query"].items():
        assert value == pytest.approx(result.per_query[qid]["ndcg@10"], abs=1e-9)
    assert set(recipes["run"]) == set(result.run)
    for qid, docs in result.run.items():
        assert recipes["run"][qid] == pytest.approx(docs, abs=1e-6)


def test_recipe_2_information_retrieval_evaluator_is_binary_ndcg(recipes):
    # Why the two numbers differ: the evaluator sees relevant documents as a set, each with gain 1.
    binary = {q: dict.fromkeys(docs, 1) for q, docs in recipes["qrels"].items()}
    assert recipes["ir_ndcg"] == pytest.approx(score(binary, recipes["run"], [10])["ndcg@10"], abs=1e-6)
    assert abs(recipes["ir_ndcg"] - recipes["ndcg"]) > 1e-3  # the page's data shows the difference


def test_recipe_2_loader_reads_what_lessonlib_reads(recipes, toy_folder):
    corpus, queries, qrels = recipes["load_beir"](toy_folder)
    dataset = load_beir(toy_folder)
    assert (corpus, queries, qrels) == (dataset.corpus, dataset.queries, dataset.qrels)


@pytest.mark.slow
def test_recipe_2_loader_reads_scifact_as_lessonlib(recipes, scifact_dir):
    corpus, queries, qrels = recipes["load_beir"](scifact_dir)
    dataset = load_beir(scifact_dir)
    assert corpus == dataset.corpus
    assert queries == dataset.queries
    assert qrels == dataset.qrels


def test_recipe_3_bm25_is_lessonlib_bm25(recipes, toy_folder):
    result = evaluate(BM25Retriever(), load_beir(toy_folder))
    assert set(recipes["bm25_run"]) == set(result.run)
    for qid, docs in result.run.items():
        assert recipes["bm25_run"][qid] == pytest.approx(docs, abs=1e-6)
    bm25_ndcg = sum(recipes["ndcg_at_10"](recipes["qrels"], recipes["bm25_run"]).values()) / len(recipes["qrels"])
    assert bm25_ndcg == pytest.approx(result.metrics["ndcg@10"], abs=1e-9)


def test_recipe_3_rrf_sums_reciprocal_ranks(recipes):
    fused = recipes["rrf"]({"q": {"a": 3.0, "b": 2.0}}, {"q": {"b": 0.9, "c": 0.1}}, k=60)
    assert fused["q"] == pytest.approx({"a": 1 / 61, "b": 1 / 62 + 1 / 61, "c": 1 / 62})


def test_recipe_4_training_loss_is_fine_tunes(recipes, base_model, tmp_path, isolated_cache):
    # Same pairs, same settings; the test split of the folder holds the dev queries, which fine_tune refuses.
    ns = recipes
    rows = lambda ids: [(q, d, g) for q in ids for d, g in ns["qrels"][q].items()]  # noqa: E731
    folder = write_beir(
        tmp_path / "toy",
        corpus=[{"_id": i, **d} for i, d in ns["corpus"].items()],
        queries=[{"_id": i, "text": t} for i, t in ns["queries"].items()],
        qrels={"train": rows(ns["train_ids"]), "test": rows(ns["dev_ids"])},
    )
    train = load_beir(folder, split="train")
    triplets = add_hard_negatives(ns["pairs"], base_model, train, num_negatives=1, relative_margin=0.05)
    assert triplets.data.to_dict() == ns["triplets"].to_dict()
    settings = TrainingSettings(batch_size=4, bf16=False)  # lr 2e-5, warmup 0.1, scale 20, seed 0: the recipe's
    tuned = fine_tune(triplets, settings, base_model=ns["MODEL"], use_cache=False)
    assert tuned.record["train_loss"] == pytest.approx(ns["train_loss"], abs=1e-6)


def test_recipe_5_interval_is_paired_differences(recipes):
    ids = recipes["ids"]
    lesson = paired_difference(
        {q: {"ndcg@10": recipes["bm25_q"][q]} for q in ids}, {q: {"ndcg@10": recipes["dense_q"][q]} for q in ids}
    )
    assert (recipes["mean"], recipes["low"], recipes["high"]) == pytest.approx(
        (lesson.mean, lesson.low, lesson.high), abs=1e-9
    )


@pytest.mark.parametrize(("seed", "n", "confidence"), [(0, 30, 0.95), (1, 200, 0.9), (2, 12, 0.99), (3, 5, 0.95)])
def test_recipe_5_interval_is_paired_differences_on_other_data(recipes, seed, n, confidence):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(size=n), rng.uniform(size=n) + 0.05
    lesson = paired_difference(
        {str(i): {"m": x} for i, x in enumerate(a)},
        {str(i): {"m": x} for i, x in enumerate(b)},
        "m",
        confidence=confidence,
        seed=seed,
    )
    # paired_difference orders queries by id; the recipe takes them as given, so give them in that order.
    order = sorted(range(n), key=str)
    ours = recipes["paired_bootstrap"](a[order], b[order], confidence=confidence, seed=seed)
    assert ours == pytest.approx((lesson.mean, lesson.low, lesson.high), abs=1e-9)


@pytest.mark.parametrize("temperature", [0.05, 0.5])
@pytest.mark.parametrize("negatives", [False, True])
def test_recipe_8_info_nce_is_lessonlibs(recipes, temperature, negatives):
    generator = torch.Generator().manual_seed(0)
    q, p, n = (torch.randn(6, 16, generator=generator) for _ in range(3))
    ours = recipes["info_nce"](q, p, n if negatives else None, temperature=temperature)
    lesson = info_nce(q, p, n if negatives else None, temperature=temperature)
    assert ours.item() == pytest.approx(lesson.item(), abs=1e-6)


def test_recipe_8_info_nce_is_mnrl(recipes):
    assert recipes["ours"].item() == pytest.approx(recipes["theirs"].item(), abs=1e-6)
