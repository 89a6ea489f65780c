"""Benchmark: `lessonlib evaluate` against raw sentence-transformers encode + matrix product.

Not a test: timings depend on the machine. Each contender runs as its own process (interpreter start and
imports included), one after the other; wall time and CPU time (user + system, which a busy machine
disturbs less) are both reported:

    raw    SentenceTransformer.encode(corpus), encode(queries), Q @ D.T, top 1000, pytrec_eval nDCG@10
    cold   lessonlib evaluate --json with an empty embedding cache
    warm   lessonlib evaluate --json again, the cache filled by the cold run

Usage:  python benchmarks/bench_evaluate.py [--dataset scifact] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def raw_sentence_transformers(dataset_name: str) -> float:
    """The baseline, written the way an engineer would without lessonlib; returns nDCG@10 × 100."""
    import numpy as np
    import pytrec_eval
    import torch
    from sentence_transformers import SentenceTransformer

    from lessonlib.datasets import load_beir
    from lessonlib.environment import pick_device
    from lessonlib.models import minilm_path

    data = load_beir(dataset_name, split="test")
    model = SentenceTransformer(str(minilm_path()), device=pick_device())
    docs = model.encode([(d["title"] + " " + d["text"]).strip() for d in data.corpus.values()], batch_size=32)
    queries = model.encode(list(data.queries.values()), batch_size=32)
    scores, idx = torch.topk(torch.from_numpy(queries @ docs.T), k=min(1000, len(docs)), dim=1)
    doc_ids = list(data.corpus)
    run = {
        qid: {doc_ids[j]: float(s) for s, j in zip(row_s.tolist(), row_i.tolist(), strict=True)}
        for qid, row_s, row_i in zip(data.queries, scores, idx, strict=True)
    }
    per_query = pytrec_eval.RelevanceEvaluator(data.qrels, {"ndcg_cut.10"}).evaluate(run)
    return 100 * float(np.mean([v["ndcg_cut_10"] for v in per_query.values()]))


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd``; return its wall time, its CPU time (user + system, robust to a busy machine), stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="scifact")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--raw-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw_only:
        print(json.dumps({"ndcg@10": raw_sentence_transformers(args.dataset)}))
        return
    lessonlib_cmd = [sys.executable, "-m", "lessonlib.cli", "evaluate", "--dataset", args.dataset, "--json"]
    raw_cmd = [sys.executable, __file__, "--raw-only", "--dataset", args.dataset]
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "LESSONLIB_CACHE": cache}
            raw_wall, raw_cpu, raw_out = _timed(raw_cmd, env)
            cold_wall, cold_cpu, cold_out = _timed(lessonlib_cmd, env)
            warm_wall, warm_cpu, _ = _timed(lessonlib_cmd, env)
        raw_ndcg = json.loads(raw_out)["ndcg@10"]
        ours_ndcg = 100 * json.loads(cold_out)["metrics"]["ndcg@10"]
        print(
            f"run {repeat}: nDCG@10 raw {raw_ndcg:.2f}, lessonlib {ours_ndcg:.2f}\n"
            f"  wall: raw {raw_wall:.1f} s | lessonlib cold {cold_wall:.1f} s (ratio {cold_wall / raw_wall:.3f})"
            f" | warm {warm_wall:.1f} s\n"
            f"  cpu:  raw {raw_cpu:.1f} s | lessonlib cold {cold_cpu:.1f} s (ratio {cold_cpu / raw_cpu:.3f})"
            f" | warm {warm_cpu:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
