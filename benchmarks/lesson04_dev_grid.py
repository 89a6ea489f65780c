"""Benchmark: the dev grid behind lesson 04's fixed training settings, scored as the test is scored.

Not a test: it trains eleven models and scores each on the dev split only; the test split is never loaded.
On the course's 2-core CPU it took 22 minutes, 14 of them training (bfloat16 mixed precision).
It rebuilds the lesson's data exactly as ``notebooks/04_domain_fine_tuning.ipynb`` does (same seeds, same
click log, same mined pairs and hard negatives) and, for every candidate, prints dev nDCG@10 on the
*full* corpus (all 5,183 abstracts, as the test is scored) with documents encoded at

    full@128   128 tokens: the length the lesson's fine-tuned models keep (``encode_length``)
    full@256   the base model's 256 tokens (``--lengths 128 256``; about 2 minutes more per model)

and the lesson's cheaper protocol, pool@128 (the top-10 re-ranking pool of the dev queries at 128 tokens),
with the training seconds. ``gain (95% CI)`` is full@128 minus the base model at its own 256 tokens (the
comparison the lesson's test makes), with its paired bootstrap interval over the 161 dev queries
(``lessonlib.metrics.paired_difference``): how far apart the candidates really are. Fine-tuned models are
encoded in the precision they were trained in (bfloat16 on a CPU or GPU that computes it natively), the base
model in float32, as in the lesson. Trained models are cached under ``$LESSONLIB_CACHE/finetuned`` (name
``dev-grid``), so a second run only re-scores.

Usage:  LESSONLIB_DATA_DIR=... python benchmarks/lesson04_dev_grid.py [--lengths 128 [256]]
"""

from __future__ import annotations

import argparse

import pandas as pd

from lessonlib.clicklogs import mine_pairs
from lessonlib.datasets import load_beir
from lessonlib.devprotocol import DevProtocol, simulate_search_log
from lessonlib.environment import pick_device
from lessonlib.evaluation import evaluate
from lessonlib.heldout import split_dev, subset_dataset, training_queries
from lessonlib.metrics import paired_difference
from lessonlib.models import load_model
from lessonlib.pairs import add_hard_negatives, pairs_to_dataset
from lessonlib.retrievers import DenseRetriever
from lessonlib.training import TrainingSettings, evaluate_at_length, fine_tune

SEED = 0
#: The lesson's ENCODE_LENGTH: the length its fine-tuned models keep, and its dev pool's.
ENCODE_LENGTH = 128
#: (hard negatives per pair, learning rate, epochs, training tokens): the candidates compared on dev.
GRID = [
    (0, 1e-4, 1, 128),
    (1, 1e-4, 1, 64),
    (1, 1e-4, 1, 128),
    (1, 2e-4, 1, 96),
    (1, 2e-4, 1, 128),
    (1, 1e-4, 2, 128),
    (1, 2e-4, 2, 64),
    (3, 1e-4, 1, 128),
    (1, 2e-4, 3, 64),
    (1, 1e-4, 2, 96),
    (1, 2e-4, 2, 96),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[ENCODE_LENGTH], help="encoding lengths to score")
    lengths = parser.parse_args().lengths
    device = pick_device()
    train = load_beir("scifact", split="train")
    base = load_model("all-MiniLM-L6-v2", device=device)
    train_ids, dev_ids = split_dev(list(training_queries(train)), dev_fraction=0.2, seed=SEED)
    dev = subset_dataset(train, dev_ids)
    base_dev = evaluate(DenseRetriever(base, progress=False), dev)

    # The lesson's data and dev protocol, built by the same functions the notebook calls.
    log = simulate_search_log(base, train, train_ids, sessions_per_query=20, seed=SEED).log
    pairs = pairs_to_dataset(mine_pairs(log, min_dwell=30, min_clicks=2), train)
    protocol = DevProtocol.build(base, train, dev_ids, base_dev.run, depth=10, encode_length=ENCODE_LENGTH)

    def scores(model, precision: str) -> dict[str, float | str]:
        pool = protocol.score(model, precision)
        row: dict[str, float | str] = {f"pool@{ENCODE_LENGTH}": round(100 * pool.metrics["ndcg@10"], 2)}
        for length in sorted(set(lengths) | {ENCODE_LENGTH}):
            full = evaluate_at_length(model, dev, length, precision=precision)
            row[f"full@{length}"] = round(100 * full.metrics["ndcg@10"], 2)
            if length == ENCODE_LENGTH:
                gain = paired_difference(base_dev.per_query, full.per_query)
                row["gain (95% CI)"] = f"{100 * gain.mean:+.2f} ({100 * gain.low:+.2f} to {100 * gain.high:+.2f})"
        return row

    rows = [{"negatives": "-", "lr": "-", "epochs": "-", "tokens": "-", **scores(base, "float32"), "train_s": 0.0}]
    print(pd.DataFrame(rows).to_string(index=False), flush=True)
    for negatives, lr, epochs, tokens in GRID:
        data = pairs
        if negatives:
            data = add_hard_negatives(pairs, base, train, num_negatives=negatives, relative_margin=0.05)
        settings = TrainingSettings(
            learning_rate=lr, epochs=epochs, batch_size=32, max_seq_length=tokens, warmup_ratio=0.1, seed=SEED
        )
        tuned = fine_tune(data, settings, name="dev-grid", data_description=f"{len(data)} mined pairs")
        rows.append(
            {
                "negatives": f"in-batch + {negatives} hard" if negatives else "in-batch only",
                "lr": lr,
                "epochs": epochs,
                "tokens": tokens,
                **scores(tuned.model, tuned.precision),
                "train_s": round(tuned.record["train_seconds"], 1),
            }
        )
        print(pd.DataFrame(rows[-1:]).to_string(index=False, header=False), flush=True)
    table = pd.DataFrame(rows)
    for protocol in [c for c in table.columns if "@" in c and "CI" not in c]:
        table[f"rank {protocol}"] = table[protocol].rank(ascending=False, method="min").astype(int)
    print(f"\nbf16 mixed precision: {tuned.settings.bf16}\n{table.to_string(index=False)}")


if __name__ == "__main__":
    main()
