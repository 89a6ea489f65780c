"""The ``lessonlib`` command: evaluate a model on a BEIR data set, list models and data sets."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from lessonlib import __version__
from lessonlib.datasets import DatasetFormatError, check_split, load_beir
from lessonlib.download import SOURCES, DownloadError, dataset_status, download_dataset
from lessonlib.environment import check_device
from lessonlib.evaluation import HEADLINE_METRICS, check_run_path, evaluate, write_trec_run
from lessonlib.models import CATALOGUE, ModelNotAvailableError, resolve_model_source
from lessonlib.retrievers import retriever_for


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lessonlib", description="Helpers for the text-embedding course (see the README)."
    )
    parser.add_argument("--version", action="version", version=f"lessonlib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ev = sub.add_parser(
        "evaluate",
        help="retrieval metrics of a model (or bm25) on a BEIR data set, as MTEB computes them",
        description="Encode (cached), search the top 1000 documents per query and print pytrec_eval's "
        "metrics × 100. Example: lessonlib evaluate --model all-MiniLM-L6-v2 --dataset scifact",
    )
    ev.add_argument("--model", default="all-MiniLM-L6-v2", help="course model name, hub id, folder, or 'bm25'")
    ev.add_argument("--dataset", required=True, help="data set name (e.g. scifact) or BEIR folder")
    ev.add_argument("--split", default="test", help="qrels split (default: test)")
    ev.add_argument("--batch-size", type=int, default=32, help="texts per forward pass (default: 32)")
    ev.add_argument("--device", default=None, help="torch device (default: CUDA, then MPS, then CPU)")
    ev.add_argument("--no-cache", action="store_true", help="neither read nor write the embedding cache")
    ev.add_argument("--json", action="store_true", help="print the metrics as JSON (fractions, not × 100)")
    ev.add_argument("--run-out", metavar="FILE", help="also write the ranking as a TREC run file")
    ev.add_argument("--no-download", action="store_true", help="fail instead of downloading a missing data set")
    ev.add_argument("--quiet", action="store_true", help="no progress bars (the table or JSON only)")

    models = sub.add_parser("models", help="the model catalogue and where each model's weights come from")
    models.add_argument("--json", action="store_true", help="print as JSON")

    data = sub.add_parser("datasets", help="known data sets and where each is (or would come from)")
    data.add_argument("--download", metavar="NAME", choices=sorted(SOURCES), help="download NAME into the cache")
    return parser


def _cmd_evaluate(args: argparse.Namespace) -> int:
    # Every argument is checked before any work: a bad one costs nothing and loses nothing.
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}.")
    check_split(args.split)
    if args.device is not None:
        check_device(args.device)
    if args.run_out:
        check_run_path(args.run_out)
    dataset = load_beir(args.dataset, split=args.split, download=not args.no_download)
    retriever = retriever_for(
        args.model,
        device=args.device,
        batch_size=args.batch_size,
        cache=not args.no_cache,
        progress=not (args.json or args.quiet),
    )
    result = evaluate(retriever, dataset)
    if args.run_out:
        write_trec_run(result.run, args.run_out, tag=result.model)
    if args.json:
        payload = {
            "model": result.model,
            "dataset": result.dataset,
            "split": result.split,
            "queries": len(result.per_query),
            "metrics": result.metrics,
            "seconds": result.seconds,
        }
        print(json.dumps(payload, indent=2, sort_keys=True))
    else:
        print(result.table(HEADLINE_METRICS))
        if args.run_out:
            print(f"Run written to {args.run_out}")
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    rows = [
        {
            "name": m.name,
            "dimensions": m.dimensions,
            "max_tokens": m.max_tokens,
            "licence": m.licence,
            "query_prompt": m.query_prompt,
            "document_prompt": m.document_prompt,
            "source": resolve_model_source(m.name),
        }
        for m in CATALOGUE.values()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        prompts = ", ".join(
            f"{side} prompt {row[f'{side}_prompt']!r}" for side in ("query", "document") if row[f"{side}_prompt"]
        )
        print(f"{row['name']:<24}{row['dimensions']:>5} dims {row['max_tokens']:>5} tokens  {row['licence']}")
        print(f"{'':<24}{prompts or 'no prompts'}; weights: {row['source']}")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    if args.download:
        print(f"{args.download} is in {download_dataset(args.download)}")
        return 0
    for row in dataset_status():
        print(f"{row['name']}: {row['status']}\n  {row['citation']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lessonlib`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    handlers = {"evaluate": _cmd_evaluate, "models": _cmd_models, "datasets": _cmd_datasets}
    try:
        return handlers[args.command](args)
    # OSError covers a data set not found (DatasetNotFoundError) and an unwritable --run-out.
    except (DatasetFormatError, DownloadError, ModelNotAvailableError, ValueError, OSError) as err:
        print(f"lessonlib {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
