"""lessonlib: the tested helpers behind the text-embedding course's notebooks.

One module per lesson concept:

- ``environment``: device choice, seeds, cache folder, version report (lesson 00).
- ``models``: the model catalogue and ``load_model`` (offline packaged models, hub otherwise).
- ``datasets``: BEIR-layout data sets: find, download (checksum-verified), load, validate.
- ``embeddings``: encoding with an on-disk cache keyed by model, texts and settings.
- ``retrieval``: exact dense search over normalised embeddings, and BM25 (MTEB's bm25s baseline).
- ``metrics``: IR metrics through pytrec_eval (graded nDCG@k as MTEB computes it).
- ``evaluation``: the end-to-end retrieval evaluation used by the CLI and the lessons.
"""

__version__ = "0.1.0"
