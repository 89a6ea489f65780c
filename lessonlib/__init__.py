"""lessonlib: the tested helpers behind the text-embedding course's notebooks.

One module per lesson concept:

- ``storage``: atomic writes of files and folders (cache entries, run files, downloads).
- ``validation``: checks of scalar arguments in one place (``check_int``, ``check_float``).
- ``environment``: device choice, seeds, cache folder, version report (lesson 00).
- ``models``: the model catalogue and ``load_model`` (offline packaged models, hub otherwise).
- ``datasets``: BEIR-layout data sets: find (on disk, else through ``download``), load, validate.
- ``download``: a known data set's checksummed download, extraction, clean-up of killed downloads.
- ``embeddings``: encoding with an on-disk cache keyed by model, texts and settings.
- ``retrieval``: exact dense search over normalised embeddings, and BM25 (MTEB's bm25s baseline).
- ``retrievers``: the systems evaluated: a dense model, BM25, a query-side adapter, a hybrid (RRF).
- ``metrics``: IR metrics through pytrec_eval (``score``; graded nDCG@k as MTEB computes it).
- ``evaluation``: ``evaluate(retriever, dataset)``, used by the CLI and the lessons.
- ``contrastive``: InfoNCE with in-batch and hard negatives, temperature (lesson 01).
- ``geometry``: alignment and uniformity of an embedding space (lesson 01).
- ``projection``: a projection head trained over frozen embeddings, and its one training loop (lesson 01).
- ``sweep``: the temperature × batch-size sweep of projection heads, its table and summaries (lesson 01).
- ``leaderboard``: MTEB(eng, v1) and v2 figures with sources, the benchmarks' task lists (lesson 02).
- ``picker``: choosing a model under constraints, and the storage price of its vectors (lesson 02).
- ``similarity``: normalise, cosine, dot, squared L2 and top-k by each (lesson 03).
- ``rankings``: how far two similarity functions agree: top-k overlap, "is a closer than b?" (lesson 03).
- ``clicklogs``: simulated click logs over training queries, pair mining, mined-pair precision (lesson 04).
- ``heldout``: the dev split, subsets and re-ranking pools, the test-leak guard (lesson 04).
- ``leakage``: seen/unseen held-out queries, near-duplicate claims, per-group intervals (lesson 04).
- ``pairs``: training pairs and hard negatives, the checked ``TrainingSet`` (lesson 04).
- ``training``: fine-tuning with SentenceTransformerTrainer and MNRL, cached runs with model cards (lesson 04).
- ``devprotocol``: lesson 04's search log behind the mined pairs, and its dev protocol (lesson 04).
- ``adapter``: a query-side adapter, lesson 01's projection head on the query side only (lesson 04).
- ``dimensions``: Matryoshka truncation, the first ``m`` dimensions re-normalised (lesson 05).
- ``quantization``: int8 and binary embeddings, Hamming search and rescoring, bytes per vector (lesson 05).
- ``indexing``: FAISS flat, HNSW, IVF and IVF-PQ indexes, recall against exact search, a synthetic corpus (lesson 05).
- ``costs``: memory per index layout by arithmetic, projected to 10 M and 1 B documents (lesson 05).
- ``vectorstore``: a Qdrant collection on disk (local mode; the same client as a server), checked against exact search
  (lesson 05).
- ``exercises``: the exercises' self-checks, one module per lesson.
- ``course``: the course as a whole: lesson-template checks, learner variants.
- ``prose``: every measured number in a lesson's prose is printed by a compared cell or sourced.
- ``claims``: claims checks, what a lesson says about hardware-dependent numbers (one module per lesson).
"""

__version__ = "0.1.0"
