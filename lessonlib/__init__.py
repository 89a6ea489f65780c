"""lessonlib: the tested helpers behind the text-embedding course's notebooks.

One module per lesson concept:

- ``storage``: atomic writes of files and folders (cache entries, run files, downloads).
- ``validation``: checks of scalar arguments in one place (``check_int``, ``check_float``).
- ``environment``: device choice, seeds, cache folder, version report (lesson 00).
- ``models``: the model catalogue and ``load_model`` (offline packaged models, hub otherwise).
- ``datasets``: BEIR-layout data sets: find, download (checksum-verified), load, validate.
- ``embeddings``: encoding with an on-disk cache keyed by model, texts and settings.
- ``retrieval``: exact dense search over normalised embeddings, and BM25 (MTEB's bm25s baseline).
- ``metrics``: IR metrics through pytrec_eval (graded nDCG@k as MTEB computes it).
- ``evaluation``: the end-to-end retrieval evaluation used by the CLI and the lessons.
- ``contrastive``: InfoNCE with in-batch and hard negatives, temperature (lesson 01).
- ``geometry``: alignment and uniformity of an embedding space (lesson 01).
- ``projection``: a projection head trained over frozen embeddings, and its one training loop (lesson 01).
- ``leaderboard``: MTEB(eng, v1) and v2 figures with sources, and a model picker under constraints (lesson 02).
- ``similarity``: normalise, cosine, dot, squared L2 and top-k by each (lesson 03).
- ``clicklogs``: simulated click logs over training queries, pair mining, mined-pair precision (lesson 04).
- ``heldout``: the dev split, subsets and re-ranking pools, the test-leak guard (lesson 04).
- ``pairs``: training pairs and hard negatives, the checked ``TrainingSet`` (lesson 04).
- ``training``: fine-tuning with SentenceTransformerTrainer and MNRL, cached runs with model cards (lesson 04).
- ``adapter``: a query-side adapter, lesson 01's projection head on the query side only (lesson 04).
- ``exercises``: the exercises' self-checks, one module per lesson.
- ``course``: the course as a whole: lesson-template checks, learner variants.
- ``prose``: every measured number in a lesson's prose is printed by a compared cell or sourced.
- ``claims``: claims checks, what a lesson says about hardware-dependent numbers (one module per lesson).
"""

__version__ = "0.1.0"
