"""The trainer: fine-tune an embedding model on a ``TrainingSet`` with ``SentenceTransformerTrainer`` + MNRL.

Full fine-tuning trains every weight with the contrastive InfoNCE loss that sentence-transformers calls
``MultipleNegativesRankingLoss`` (van den Oord et al. 2018; Henderson et al. 2017): for a batch of
:math:`B` pairs :math:`(q_i, p_i)` (and optional hard negatives :math:`n_i`), with cosine similarity
:math:`s` and scale :math:`1/\\tau` (20 by default),

.. math:: \\mathcal{L} = -\\frac{1}{B}\\sum_{i=1}^{B}
   \\log \\frac{e^{s(q_i, p_i)/\\tau}}{\\sum_{j=1}^{B} e^{s(q_i, p_j)/\\tau} + \\sum_{j=1}^{B} e^{s(q_i, n_j)/\\tau}}

so every other passage in the batch is a negative. ``BatchSamplers.NO_DUPLICATES`` keeps a text from
appearing twice in a batch, where it would be its own false negative.

Every trained model changes the document embeddings, so the corpus must be re-encoded (re-indexed);
``lessonlib.adapter`` is the cheaper alternative that does not.

Training runs are cached: ``fine_tune`` saves each model (with a model card recording data and settings)
under ``<cache>/finetuned/<key>``, where the key hashes the base model's weights, the training texts, the
settings and the library versions, so a re-run loads it instead of training again. The training data is a
``lessonlib.pairs.TrainingSet``, already checked against the test queries where it was made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from datasets import Dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from sentence_transformers.sentence_transformer.training_args import (
    BatchSamplers,
    SentenceTransformerTrainingArguments,
)
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from lessonlib.datasets import RetrievalDataset
from lessonlib.embeddings import model_fingerprint, texts_fingerprint
from lessonlib.environment import cache_dir, package_version, pick_device, pick_mixed_precision, set_seed
from lessonlib.evaluation import EvaluationResult, evaluate
from lessonlib.models import load_model, transformers_progress
from lessonlib.pairs import TrainingSet
from lessonlib.retrievers import DenseRetriever
from lessonlib.storage import publish_dir, scratch_dir
from lessonlib.validation import check_float, check_int

SETTINGS_FILE = "lessonlib_training.json"


@dataclass(frozen=True)
class TrainingSettings:
    """Hyper-parameters of one fine-tuning run (all recorded in the saved model's card).

    Attributes
    ----------
    learning_rate : float
    epochs : int
    batch_size : int
        Pairs per batch; each query sees ``batch_size − 1`` in-batch negatives.
    max_seq_length : int
        Tokens kept per text during training (documents are truncated).
    encode_length : int or None
        ``max_seq_length`` the saved model encodes with; ``None`` keeps the base model's (256 for
        all-MiniLM-L6-v2). Encoding costs about proportionally to the tokens, so a shorter length makes
        every re-indexing cheaper; what it costs in nDCG is for the dev split to say.
    warmup_ratio : float
        Fraction of the steps with a linearly rising learning rate (then linear decay).
    scale : float
        :math:`1/\\tau` of the loss.
    seed : int
    bf16 : bool or None
        Train in bfloat16 mixed precision (autocast; the weights stay float32). ``None`` lets
        ``lessonlib.environment.pick_mixed_precision`` decide for the device: on where the hardware
        computes bfloat16 natively, off elsewhere. The run records the resolved value.
    """

    learning_rate: float = 2e-5
    epochs: int = 1
    batch_size: int = 32
    max_seq_length: int = 128
    encode_length: int | None = None
    warmup_ratio: float = 0.1
    scale: float = 20.0
    seed: int = 0
    bf16: bool | None = None

    def __post_init__(self) -> None:
        check_float(self.learning_rate, "learning_rate", minimum=0.0, include_minimum=False)
        check_int(self.epochs, "epochs", minimum=1)
        check_int(self.batch_size, "batch_size", minimum=2, hint="in-batch negatives need company")
        check_int(self.max_seq_length, "max_seq_length", minimum=8)
        if self.encode_length is not None:
            check_int(self.encode_length, "encode_length", minimum=8, hint="or None: keep the base model's")
        check_float(self.warmup_ratio, "warmup_ratio", minimum=0.0, maximum=1.0, include_maximum=False)
        check_float(self.scale, "scale", minimum=0.0, include_minimum=False)
        check_int(self.seed, "seed", minimum=0)
        if self.bf16 is not None and not isinstance(self.bf16, bool):
            raise TypeError(f"bf16 must be True, False or None (let the hardware decide), got {self.bf16!r}.")


@dataclass
class FineTuned:
    """A fine-tuned model, where it is saved, and how it was obtained."""

    model: SentenceTransformer
    path: Path
    settings: TrainingSettings
    from_cache: bool
    record: dict = field(default_factory=dict)

    @property
    def precision(self) -> str:
        """The precision the model was trained in, ``"bfloat16"`` or ``"float32"``: encode it in the same."""
        return "bfloat16" if self.settings.bf16 else "float32"


def finetuned_cache() -> Path:
    """Folder of cached fine-tuned models: ``<cache>/finetuned``."""
    return cache_dir() / "finetuned"


def _run_key(base: SentenceTransformer, train: Dataset, settings: TrainingSettings) -> str:
    payload = {
        "base": model_fingerprint(base),
        "data": {c: texts_fingerprint([str(x) for x in train[c]]) for c in sorted(train.column_names)},
        "settings": asdict(settings),
        "versions": {p: package_version(p) for p in ("sentence-transformers", "transformers", "torch")},
        "format": 1,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


@contextlib.contextmanager
def seq_length(model: SentenceTransformer, length: int | None) -> Iterator[SentenceTransformer]:
    """Temporarily set ``model.max_seq_length`` (``None`` leaves it); restored on exit."""
    before = model.max_seq_length
    if length is not None:
        model.max_seq_length = length
    try:
        yield model
    finally:
        model.max_seq_length = before


def fine_tune(
    train: TrainingSet,
    settings: TrainingSettings,
    base_model: str = "all-MiniLM-L6-v2",
    name: str = "minilm-scifact-clicks",
    data_description: str = "",
    progress: bool = False,
    use_cache: bool = True,
) -> FineTuned:
    """Fine-tune ``base_model`` on ``train`` with ``SentenceTransformerTrainer`` + MNRL, or load the cached run.

    Parameters
    ----------
    train : lessonlib.pairs.TrainingSet
        ``anchor`` / ``positive`` (and optionally ``negative…``) text columns from ``pairs_to_dataset``,
        ``add_hard_negatives`` or ``TrainingSet.check``, which have refused the test queries.
    settings : TrainingSettings
    base_model : str
        A name or folder for ``lessonlib.models.load_model``.
    name, data_description : str
        Written into the model card.
    progress : bool
        Show the trainer's progress bar (stderr) and logs.
    use_cache : bool
        Load a previously saved identical run instead of training.

    Returns
    -------
    FineTuned
        The model is on the device ``pick_device`` chooses; ``record`` holds the settings, data summary,
        training loss and seconds.
    """
    if not isinstance(train, TrainingSet):
        raise TypeError(
            f"train must be a lessonlib.pairs.TrainingSet, got {type(train).__name__}: make it with "
            "pairs_to_dataset(pairs, dataset), or TrainingSet.check(data, dataset) for a datasets.Dataset."
        )
    if len(train) < settings.batch_size:
        raise ValueError(f"{len(train)} pairs is fewer than one batch of {settings.batch_size}: lower batch_size.")
    with transformers_progress(progress):
        return _train_or_load(train.data, settings, base_model, name, data_description, progress, use_cache)


def _train_or_load(
    train: Dataset,
    settings: TrainingSettings,
    base_model: str,
    name: str,
    data_description: str,
    progress: bool,
    use_cache: bool,
) -> FineTuned:
    device = pick_device()
    if settings.bf16 is None:
        # Resolved before hashing: a float32 run and a bfloat16 run are different models.
        settings = replace(settings, bf16=pick_mixed_precision(device))
    model = load_model(base_model, device=device)
    key = _run_key(model, train, settings)
    target = finetuned_cache() / f"{name}-{key}"
    if use_cache and (target / SETTINGS_FILE).is_file() and (target / "modules.json").is_file():
        record = json.loads((target / SETTINGS_FILE).read_text())
        return FineTuned(SentenceTransformer(str(target), device=device), target, settings, True, record)

    set_seed(settings.seed)
    base_length = model.max_seq_length
    model.max_seq_length = settings.max_seq_length
    model.model_card_data.model_name = name
    model.model_card_data.language = ["en"]
    model.model_card_data.license = "apache-2.0"
    model.model_card_data.train_datasets = [{"name": data_description or "mined (query, passage) pairs"}]
    with scratch_dir(target.parent, "train") as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=str(tmp / "trainer"),
            num_train_epochs=settings.epochs,
            per_device_train_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            warmup_steps=settings.warmup_ratio,  # transformers 5: a float < 1 is a ratio of the steps
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            seed=settings.seed,
            data_seed=settings.seed,
            bf16=settings.bf16,
            use_cpu=device == "cpu",  # transformers refuses bf16 on a CPU unless told it is one
            save_strategy="no",
            logging_strategy="steps" if progress else "no",
            logging_steps=10,
            report_to="none",
            disable_tqdm=not progress,
        )
        loss = MultipleNegativesRankingLoss(model, scale=settings.scale)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss=loss)
        if not progress:
            trainer.remove_callback(PrinterCallback)
            trainer.remove_callback(ProgressCallback)
        start = time.perf_counter()
        output = trainer.train()
        seconds = time.perf_counter() - start
        model.max_seq_length = settings.encode_length or base_length
        record = {
            "name": name,
            "base_model": base_model,
            "data": data_description,
            "pairs": len(train),
            "columns": list(train.column_names),
            "settings": asdict(settings),
            "loss": "MultipleNegativesRankingLoss",
            "batch_sampler": "NO_DUPLICATES",
            "train_loss": round(float(output.training_loss), 6),
            "train_seconds": round(seconds, 1),
            "device": device,
            "versions": {p: package_version(p) for p in ("sentence-transformers", "transformers", "torch")},
        }
        staging = tmp / "model"
        model.save(str(staging))
        (staging / SETTINGS_FILE).write_text(json.dumps(record, indent=2))
        _append_card(staging / "README.md", record)
        publish_dir(staging, target, overwrite=True)
    # Reload what was saved, so a fresh run and a cached run hand back bit-identical models.
    return FineTuned(SentenceTransformer(str(target), device=device), target, settings, False, record)


def _append_card(readme: Path, record: dict) -> None:
    lines = ["", "## Course record (lessonlib)", "", f"- Data: {record['data']} ({record['pairs']} rows)"]
    lines += [f"- {k}: {v}" for k, v in record["settings"].items()]
    lines += [f"- Loss: {record['loss']}, batch sampler {record['batch_sampler']}"]
    lines += [f"- Final training loss: {record['train_loss']}", ""]
    text = readme.read_text() if readme.is_file() else f"# {record['name']}\n"
    readme.write_text(text + "\n".join(lines))


def evaluate_at_length(
    model: SentenceTransformer,
    dataset: RetrievalDataset,
    max_seq_length: int | None = None,
    progress: bool = False,
    precision: str = "float32",
) -> EvaluationResult:
    """``evaluate`` of ``model`` (a ``DenseRetriever``) with texts truncated to ``max_seq_length`` tokens."""
    with seq_length(model, max_seq_length):
        return evaluate(DenseRetriever(model, progress=progress, precision=precision), dataset)
