"""Benchmark: the dev grid behind lesson 04's fixed training settings, scored under two dev protocols.

Not a test: it trains eight models and scores each on the dev split only; the test split is never loaded.
On the course's 2-core CPU it took 19 minutes, 10 of them training (bfloat16 mixed precision). It rebuilds
the lesson's data exactly as ``notebooks/04_domain_fine_tuning.ipynb`` does (same seeds, same click log,
same mined pairs and hard negatives) and, for every candidate, prints dev nDCG@10 on the top-10 re-ranking
pool of the dev queries

    pool@64    documents cut to 64 tokens: the lesson's cheap dev protocol
    pool@256   the model's own 256 tokens: what the test uses (for the base model this pool reproduces
               the full-corpus dev figure exactly, because the pool is its own top 10)

with the training seconds. Every model is encoded in float32 here; the lesson encodes its bfloat16-trained
models in bfloat16, so its dev figures differ from these by that precision effect (the lesson measures it: up
to about a quarter of a point on the dev pool). Trained models are cached under ``$LESSONLIB_CACHE/finetuned``
(name ``dev-grid``), so a second run only re-scores.

Usage:  LESSONLIB_DATA_DIR=... python benchmarks/lesson04_dev_grid.py
"""

from __future__ import annotations

import pandas as pd

from lessonlib.clicklogs import ClickModel, mine_pairs, rankings_from_embeddings, simulate_click_log, training_queries
from lessonlib.datasets import load_beir
from lessonlib.embeddings import encode
from lessonlib.environment import pick_device
from lessonlib.evaluation import evaluate
from lessonlib.finetuning import (
    TrainingSettings,
    add_hard_negatives,
    evaluate_at_length,
    fine_tune,
    pairs_to_dataset,
    rerank_pool,
    split_dev,
    subset_dataset,
)
from lessonlib.models import load_model

SEED = 0
#: (hard negatives per pair, learning rate, epochs, training tokens): the candidates tried while writing.
GRID = [
    (0, 1e-4, 1, 128),
    (1, 1e-4, 1, 64),
    (1, 1e-4, 1, 128),
    (1, 2e-4, 1, 96),
    (1, 2e-4, 1, 128),
    (1, 1e-4, 2, 128),
    (1, 2e-4, 2, 64),
    (3, 1e-4, 1, 128),
]


def main() -> None:
    device = pick_device()
    train = load_beir("scifact", split="train")
    base = load_model("all-MiniLM-L6-v2", device=device)
    train_ids, dev_ids = split_dev(list(training_queries(train)), dev_fraction=0.2, seed=SEED)
    dev = subset_dataset(train, dev_ids)
    base_dev = evaluate(base, dev, progress=False)

    doc_emb = encode(base, train.document_texts(), progress=False)
    query_emb = encode(base, [train.queries[q] for q in train_ids], progress=False)
    rankings = rankings_from_embeddings(train_ids, query_emb, train.doc_ids, doc_emb, depth=10)
    log = simulate_click_log(rankings, train, ClickModel(), sessions_per_query=20, seed=SEED)
    pairs = pairs_to_dataset(mine_pairs(log, min_dwell=30, min_clicks=2), train)
    dev_pool = subset_dataset(train, dev_ids, rerank_pool(base_dev.run, depth=10))

    def pool_ndcg(model, length: int) -> float:
        return round(100 * evaluate_at_length(model, dev_pool, length).metrics["ndcg@10"], 2)

    rows = [
        {
            "negatives": "-",
            "lr": "-",
            "epochs": "-",
            "tokens": "-",
            "pool@64": pool_ndcg(base, 64),
            "pool@256": pool_ndcg(base, 256),
            "train_s": 0.0,
        }
    ]
    print(f"base model, full dev corpus at 256 tokens: {100 * base_dev.metrics['ndcg@10']:.2f}", flush=True)
    for negatives, lr, epochs, tokens in GRID:
        data = pairs
        if negatives:
            data = add_hard_negatives(pairs, base, train, num_negatives=negatives, relative_margin=0.05)
        settings = TrainingSettings(
            learning_rate=lr, epochs=epochs, batch_size=32, max_seq_length=tokens, warmup_ratio=0.1, seed=SEED
        )
        tuned = fine_tune(data, settings, train, name="dev-grid", data_description=f"{len(data)} mined pairs")
        rows.append(
            {
                "negatives": f"in-batch + {negatives} hard" if negatives else "in-batch only",
                "lr": lr,
                "epochs": epochs,
                "tokens": tokens,
                "pool@64": pool_ndcg(tuned.model, 64),
                "pool@256": pool_ndcg(tuned.model, 256),
                "train_s": round(tuned.record["train_seconds"], 1),
            }
        )
        print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 2), flush=True)
    table = pd.DataFrame(rows)
    for protocol in ("pool@64", "pool@256"):
        table[f"rank {protocol}"] = table[protocol].rank(ascending=False, method="min").astype(int)
    print(f"\nbf16 mixed precision: {tuned.settings.bf16}\n{table.to_string(index=False)}")


if __name__ == "__main__":
    main()
