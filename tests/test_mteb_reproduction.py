"""The course's promise: lessonlib reproduces MTEB's published SciFact figures on the real data.

Published (../shared/reference/mteb_published.md, from the MTEB results repository):
all-MiniLM-L6-v2 nDCG@10 = 64.51; BM25 (bm25s, MTEB's baseline) = 68.74.
These run in CI on the real SciFact (minutes, not skipped there).
"""

import json

import pytest

from lessonlib.cli import main

pytestmark = pytest.mark.slow


def _evaluate(capsys, model, scifact_dir, *extra):
    assert main(["evaluate", "--model", model, "--dataset", str(scifact_dir), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_minilm_reproduces_mteb_ndcg_at_10(scifact_dir, capsys, tmp_path):
    run_file = tmp_path / "minilm.trec"
    payload = _evaluate(capsys, "all-MiniLM-L6-v2", scifact_dir, "--run-out", str(run_file))
    assert payload["queries"] == 300
    assert 100 * payload["metrics"]["ndcg@10"] == pytest.approx(64.51, abs=0.05)
    lines = run_file.read_text().splitlines()
    assert len(lines) == 300 * 1000


def test_bm25_reproduces_mteb_bm25s_baseline(scifact_dir, capsys):
    payload = _evaluate(capsys, "bm25", scifact_dir)
    assert 100 * payload["metrics"]["ndcg@10"] == pytest.approx(68.74, abs=0.5)
