"""Encoding texts into embeddings, with an on-disk cache so a notebook re-run does not re-encode a corpus.

Encoding a corpus costs minutes on a CPU; reading it back from the cache costs well under a second. An entry
is keyed by a fingerprint of the model's weights and configuration, the exact texts and the prompt, so a
fine-tuned model or a changed setting never reuses stale vectors. An entry holds the vectors *before* a
trailing ``Normalize`` module, and unit length is applied on reading: the normalised and the raw embeddings of
a model (lesson 03 needs both) cost one encoding. Entries are written atomically and carry a SHA-256 of their
data: a corrupt entry is detected, reported and rebuilt. Entries are created with the permissions the
umask allows (as any other file), so a cache shared by a group works; an entry the user may not read is
reported as a permission problem, never as corruption.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Normalize
from tqdm.std import tqdm

from lessonlib.environment import cache_dir
from lessonlib.storage import write_atomic

#: Texts handed to ``SentenceTransformer.encode`` per call; progress is reported between calls.
CHUNK_TEXTS = 512

#: Compute precisions of ``encode``: ``"float32"`` (MTEB's figures) or ``"bfloat16"`` (``torch.autocast``).
PRECISIONS = ("float32", "bfloat16")


def model_fingerprint(model: SentenceTransformer) -> str:
    """SHA-256 of a model's weights and module configuration (changes whenever training changes a weight)."""
    digest = hashlib.sha256()
    digest.update(repr(model).encode())
    digest.update(str(model.max_seq_length).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def texts_fingerprint(texts: Sequence[str]) -> str:
    """SHA-256 of a list of texts, order included (each text is length-prefixed, so joins cannot collide)."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def embeddings_cache() -> Path:
    """Folder of cached embeddings: ``<cache>/embeddings``."""
    return cache_dir() / "embeddings"


def _cache_key(model: SentenceTransformer, texts: Sequence[str], prompt: str, precision: str) -> str:
    settings = {
        "model": model_fingerprint(model),
        "texts": texts_fingerprint(texts),
        "prompt": prompt,
        "format": 2,  # 2: entries hold the vectors before a trailing Normalize module
    }
    if precision != "float32":  # float32 entries keep the keys they had before precision was a setting
        settings["precision"] = precision
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _load_entry(key: str, expected_rows: int) -> np.ndarray | None:
    """Return a cached array, or ``None`` when it is missing or fails its checks (then it is rebuilt)."""
    data_path = embeddings_cache() / f"{key}.npy"
    meta_path = embeddings_cache() / f"{key}.json"
    if not (data_path.is_file() and meta_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        raw = data_path.read_bytes()
        if not isinstance(meta, dict):
            raise ValueError(f"{meta_path.name} holds {json.dumps(meta)[:40]}, not a JSON object")
        if hashlib.sha256(raw).hexdigest() != meta["sha256"]:
            raise ValueError("SHA-256 mismatch")
        array = np.load(io.BytesIO(raw), allow_pickle=False)
        if array.shape[0] != expected_rows:
            raise ValueError(f"{array.shape[0]} rows, expected {expected_rows}")
    except PermissionError as err:
        raise PermissionError(
            f"Cannot read the cached embeddings {err.filename or data_path}: permission denied. Make the cache "
            f"readable to you (e.g. chmod -R g+rw {embeddings_cache()}), point $LESSONLIB_CACHE at a folder of "
            "your own, or pass cache=False."
        ) from err
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
        warnings.warn(f"Cached embeddings {data_path.name} are corrupt ({err}); re-encoding.", stacklevel=3)
        return None
    return array


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except PermissionError as err:  # the folder, or an entry of another user in a sticky folder
        raise PermissionError(
            f"Cannot write {path.name} to the embedding cache {path.parent}: permission denied. Make it writable "
            "to you, point $LESSONLIB_CACHE at a folder of your own, or pass cache=False."
        ) from err


def _store_entry(key: str, array: np.ndarray, description: str) -> None:
    folder = embeddings_cache()
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    raw = buffer.getvalue()
    meta = {"sha256": hashlib.sha256(raw).hexdigest(), "shape": list(array.shape), "description": description}
    # The data goes first: an entry counts only once its metadata (with the data's hash) is in place.
    _atomic_write(folder / f"{key}.npy", raw)
    _atomic_write(folder / f"{key}.json", json.dumps(meta).encode())


@contextlib.contextmanager
def _without_trailing_normalize(model: SentenceTransformer) -> Iterator[bool]:
    """Detach a final ``Normalize`` module for the duration, then put it back; yield whether there was one.

    The module is removed with ``delattr`` and put back with ``nn.Module.add_module`` under its own name, so
    the model's structure, names included, and with it its fingerprint, is exactly as before.
    (``torch.nn.Sequential.pop`` would renumber the other modules "0", "1", … and rename custom names.) A
    wrapper that only forwards attributes to a model falls back to ``pop``.
    """
    children = list(model.named_children())
    if not children or not isinstance(children[-1][1], Normalize):
        yield False
        return
    name, normalize_module = children[-1]
    try:
        delattr(model, name)
    except AttributeError:  # not the module itself, a wrapper forwarding its attributes
        model.pop(len(children) - 1)
    try:
        yield True
    finally:
        model.add_module(name, normalize_module)


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    # As torch.nn.functional.normalize (what Normalize applies): x / max(‖x‖, 1e-12), in float32.
    return (rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def encode(
    model: SentenceTransformer,
    texts: Sequence[str],
    *,
    prompt: str = "",
    normalize: bool = True,
    batch_size: int = 32,
    cache: bool = True,
    progress: bool = True,
    description: str = "texts",
    precision: str = "float32",
) -> np.ndarray:
    """Encode ``texts`` with ``model``, reusing the on-disk cache when the same request was made before.

    Parameters
    ----------
    model : SentenceTransformer
    texts : sequence of str
        ``n`` texts; order is kept. A single ``str`` is refused: wrap it in a list.
    prompt : str
        Prepended to every text by sentence-transformers (e.g. bge's query instruction).
    normalize : bool
        Return unit-length rows (cosine similarity then equals the dot product; lesson 03). A model that
        ends with a ``Normalize`` module returns unit-length rows either way, as ``model.encode`` does.
    batch_size : int
        Texts per forward pass.
    cache : bool
        Read and write the embedding cache.
    progress : bool
        Show a progress bar on stderr.
    description : str
        Label for the progress bar and the cache entry.
    precision : {"float32", "bfloat16"}
        ``"bfloat16"`` runs the model under ``torch.autocast`` (matrix products in bfloat16, the returned
        vectors in float32): on hardware with native bfloat16 (a recent GPU, a CPU with AVX512-BF16 or AMX)
        it encodes about twice as fast, and the vectors move slightly, enough to shift ranking metrics by
        hundredths to tenths of a point (lesson 04 measures it). Keep ``"float32"`` to reproduce published
        figures. Entries are cached per precision.

    Returns
    -------
    numpy.ndarray of shape ``(n, dimensions)``, float32.

    Raises
    ------
    TypeError
        ``texts`` is a single string, or holds something that is not a string.
    ValueError
        ``texts`` is empty or holds a lone surrogate; ``precision`` is unknown.
    PermissionError
        A cache entry cannot be read or written by this user; the message names it.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    if isinstance(texts, str | bytes):
        raise TypeError(
            f"texts is a single {type(texts).__name__} ({texts[:40]!r}); pass a list of texts: "
            "encode(model, [text]) embeds one text (a str would be read as a list of characters)."
        )
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty: pass at least one text to encode.")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts must all be str; texts[{i}] is {type(text).__name__}.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(
                f"texts[{i}] holds a lone surrogate {text[err.start]!r} at character {err.start}, which is not a "
                "character (a broken \\uXXXX escape in the source?); fix or remove it before encoding."
            ) from None
    with _without_trailing_normalize(model) as had_normalize:
        raw = _encode_raw(model, texts, prompt, batch_size, cache, progress, description, precision)
    return _unit_rows(raw) if normalize or had_normalize else raw


def _encode_raw(
    model: SentenceTransformer,
    texts: list[str],
    prompt: str,
    batch_size: int,
    cache: bool,
    progress: bool,
    description: str,
    precision: str,
) -> np.ndarray:
    """The model's output rows as they are (no normalisation), from the cache or the model."""
    key = _cache_key(model, texts, prompt, precision) if cache else ""
    if cache and (hit := _load_entry(key, len(texts))) is not None:
        return hit
    # Longest first, as sentence-transformers orders batches; chunks let the bar move without widgets.
    order = np.argsort([-len(t) for t in texts], kind="stable")
    out: np.ndarray | None = None
    autocast = torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")
    with autocast, tqdm(total=len(texts), desc=f"Encoding {description}", unit="text", disable=not progress) as bar:
        for start in range(0, len(texts), CHUNK_TEXTS):
            idx = order[start : start + CHUNK_TEXTS]
            chunk = model.encode(
                [texts[i] for i in idx],
                prompt=prompt or None,
                batch_size=batch_size,
                normalize_embeddings=False,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            if out is None:
                out = np.empty((len(texts), chunk.shape[1]), dtype=np.float32)
            out[idx] = chunk
            bar.update(len(idx))
    assert out is not None
    if cache:
        _store_entry(key, out, description)
    return out
