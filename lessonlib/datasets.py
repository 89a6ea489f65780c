"""BEIR-layout retrieval data sets: find them, download them (checksum-verified), load and validate them.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``)
and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``, with a header row).

``find_dataset`` looks, in order: at the path it is given; in each folder of ``$LESSONLIB_DATA_DIR``
(``os.pathsep``-separated); in the cache (``<cache>/datasets``); and finally downloads the official BEIR
zip for a known name. Thakur et al., "BEIR", NeurIPS 2021 Datasets and Benchmarks.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from lessonlib.environment import cache_dir
from lessonlib.storage import publish_dir

DATA_DIR_ENV = "LESSONLIB_DATA_DIR"
REQUIRED_FILES = ("corpus.jsonl", "queries.jsonl")

#: A split is a name (``test``, ``train``, ``dev``), never a path.
_SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

#: Where a download in progress keeps its lock; a folder ``.download-<name>-*`` whose lock nobody holds
#: belongs to a download that was killed, and the next download removes it.
_LOCK_NAME = "owner.lock"

#: On a system without ``fcntl`` (Windows), leftovers older than this many seconds are removed instead.
_STALE_SECONDS = 24 * 3600


class DatasetNotFoundError(FileNotFoundError):
    """A data set is neither on disk nor downloadable; the message lists where it looked."""


class DatasetFormatError(ValueError):
    """A data file is malformed; the message names the file and line."""


class DownloadError(RuntimeError):
    """A download failed or did not match its checksum; nothing was left on disk."""


@dataclass(frozen=True)
class DatasetSource:
    """Where to download a data set and the checksums its archive must match."""

    url: str
    md5: str
    sha256: str
    citation: str = ""


#: Known data sets. The md5 is the one the BEIR README publishes for the archive.
SOURCES: dict[str, DatasetSource] = {
    "scifact": DatasetSource(
        url="https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip",
        md5="5f7d1de60b170fc8027bb7898e2efca1",
        sha256="536e14446a0ba56ed1398ab1055f39fe852686ecad24a6306c80c490fa8e0165",
        citation="Wadden et al., Fact or Fiction: Verifying Scientific Claims, EMNLP 2020 "
        "(claims CC BY 4.0, abstracts ODC-By 1.0)",
    ),
}


@dataclass(frozen=True)
class RetrievalDataset:
    """One split of a BEIR data set, validated.

    Attributes
    ----------
    corpus : dict[str, dict[str, str]]
        Document id to ``{"title": ..., "text": ...}``, in file order.
    queries : dict[str, str]
        Query id to text: only the queries judged in ``qrels`` for this split, in file order.
    qrels : dict[str, dict[str, int]]
        Query id to ``{document id: graded relevance}``.
    """

    name: str
    path: Path
    split: str
    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    @property
    def doc_ids(self) -> list[str]:
        """Document ids in corpus order."""
        return list(self.corpus)

    @property
    def query_ids(self) -> list[str]:
        """Judged query ids in file order."""
        return list(self.queries)

    def document_texts(self) -> list[str]:
        """Documents as MTEB embeds them: ``(title + " " + text).strip()``, in corpus order."""
        return [document_text(doc) for doc in self.corpus.values()]

    def query_texts(self) -> list[str]:
        """Query texts in ``query_ids`` order."""
        return list(self.queries.values())


def document_text(doc: dict[str, str]) -> str:
    """Join a BEIR document's title and text the way MTEB does: ``(title + " " + text).strip()``."""
    return (doc.get("title", "") + " " + doc["text"]).strip()


def _data_dirs() -> list[Path]:
    configured = os.environ.get(DATA_DIR_ENV, "")
    return [Path(p).expanduser() for p in configured.split(os.pathsep) if p]


def _is_beir_folder(path: Path) -> bool:
    return path.is_dir() and all((path / f).is_file() for f in REQUIRED_FILES)


def datasets_cache() -> Path:
    """Folder where downloaded data sets are kept: ``<cache>/datasets``."""
    return cache_dir() / "datasets"


def locate_dataset(name_or_path: str | os.PathLike[str]) -> Path | None:
    """Return the folder holding a data set, looking on disk only (path, data folders, cache), or ``None``."""
    path = Path(name_or_path).expanduser()
    if _is_beir_folder(path):
        return path
    name = str(name_or_path)
    if os.sep in name or (os.altsep and os.altsep in name):
        return None  # a path that does not hold a BEIR folder; never treat it as a name
    for folder in [*_data_dirs(), datasets_cache()]:
        if _is_beir_folder(folder / name):
            return folder / name
    return None


def find_dataset(name_or_path: str | os.PathLike[str], download: bool = True) -> Path:
    """Return the folder of a BEIR data set, downloading a known one into the cache if it is nowhere on disk.

    Raises
    ------
    DatasetNotFoundError
        Not on disk, and either unknown or ``download=False``; the message says where it looked.
    """
    found = locate_dataset(name_or_path)
    if found is not None:
        return found
    name = str(name_or_path)
    if download and name in SOURCES:
        return download_dataset(name)
    looked = [str(Path(name).expanduser())] + [str(d / name) for d in [*_data_dirs(), datasets_cache()]]
    hint = (
        f"Known names that can be downloaded: {', '.join(sorted(SOURCES))}."
        if name not in SOURCES
        else f"Run `lessonlib datasets --download {name}` with internet access."
    )
    raise DatasetNotFoundError(
        f"No BEIR data set {name!r} (a folder with {' and '.join(REQUIRED_FILES)}). Looked in: "
        f"{'; '.join(looked)}. Set ${DATA_DIR_ENV} to a folder that holds it, or pass its path. {hint}"
    )


def download_dataset(
    name: str, source: DatasetSource | None = None, dest_root: Path | None = None, timeout: float = 60.0
) -> Path:
    """Download a BEIR zip, verify its md5 and SHA-256, and extract it into ``dest_root/name``.

    Everything is written under a temporary folder beside the destination and renamed into place only
    after the checksums match and the files are there, so a failure leaves nothing behind. A download killed
    before it could clean up (SIGKILL, a power cut) leaves its folder; the next download removes it
    (``remove_stale_downloads``).

    Parameters
    ----------
    name : str
        Data set name; the folder it is extracted to.
    source : DatasetSource, optional
        Defaults to ``SOURCES[name]``.
    dest_root : Path, optional
        Defaults to ``datasets_cache()``.
    timeout : float
        Seconds a connection may stay silent before the download fails.

    Raises
    ------
    DownloadError
        The connection failed, was cut off or timed out, the checksums do not match, or the archive is not a
        valid zip holding one BEIR folder; nothing is left on disk.
    """
    if source is None:
        if name not in SOURCES:
            raise DatasetNotFoundError(f"No download source for {name!r}; known: {', '.join(sorted(SOURCES))}")
        source = SOURCES[name]
    dest_root = Path(dest_root) if dest_root is not None else datasets_cache()
    dest_root.mkdir(parents=True, exist_ok=True)
    remove_stale_downloads(dest_root)
    target = dest_root / name
    with (
        tempfile.TemporaryDirectory(dir=dest_root, prefix=f".download-{name}-", ignore_cleanup_errors=True) as tmp,
        _owner_lock(Path(tmp)),
    ):
        archive = Path(tmp) / "archive.zip"
        md5, sha256 = hashlib.md5(), hashlib.sha256()
        received, total = 0, None
        try:
            with urllib.request.urlopen(source.url, timeout=timeout) as response, archive.open("wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {name}") as bar:
                    while block := response.read(1 << 16):
                        md5.update(block)
                        sha256.update(block)
                        out.write(block)
                        received += len(block)
                        bar.update(len(block))
            if total is not None and received != total:
                raise DownloadError(
                    f"Downloading {name} from {source.url} stopped after {received} of {total} bytes: the "
                    "connection was closed early. Nothing was kept; try again."
                )
        # HTTPException: a chunked transfer cut off (IncompleteRead), a garbled status line; OSError: refused,
        # reset, timed out (URLError and HTTPError are OSErrors too).
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(
                f"Downloading {name} from {source.url} failed ({type(err).__name__}: {err}). Nothing was kept; "
                f"check the connection and try again, or place the data set in ${DATA_DIR_ENV} yourself."
            ) from err
        for algo, got, want in (("md5", md5.hexdigest(), source.md5), ("SHA-256", sha256.hexdigest(), source.sha256)):
            if got != want:
                raise DownloadError(
                    f"{source.url} has {algo} {got}, expected {want}: the download is corrupt or the file "
                    "changed upstream. Nothing was kept; try again, or place the data set in "
                    f"${DATA_DIR_ENV} yourself."
                )
        extracted = Path(tmp) / "extracted"
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(extracted)
        # zlib.error: a corrupt deflate stream; EOFError: a member cut short; NotImplementedError: an
        # unsupported compression method. zipfile checks each member's CRC-32 (BadZipFile).
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
            raise DownloadError(
                f"{source.url} is not a valid zip ({type(err).__name__}: {err}). Nothing was kept; try again, "
                f"or place the data set in ${DATA_DIR_ENV} yourself."
            ) from err
        folders = sorted({p.parent for p in extracted.rglob("corpus.jsonl") if _is_beir_folder(p.parent)})
        if len(folders) != 1:
            raise DownloadError(f"{source.url} does not hold exactly one BEIR folder (found {len(folders)}).")
        publish_dir(folders[0], target, overwrite=True)
    return target


@contextlib.contextmanager
def _owner_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder/owner.lock`` while a download works in ``folder``.

    The operating system releases the lock when the process ends, however it ends (SIGKILL included), so
    a lock that can be taken marks a folder nobody is working in any more.
    """
    with (folder / _LOCK_NAME).open("wb") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


def remove_stale_downloads(dest_root: Path) -> list[Path]:
    """Remove the ``.download-*`` folders that killed downloads left in ``dest_root``; return them.

    A download in progress holds a lock in its folder (``_owner_lock``), so a concurrent download's folder
    is never touched. Where locks are not available (Windows), folders older than a day are removed.

    Examples
    --------
    >>> remove_stale_downloads(datasets_cache())
    []
    """
    removed = []
    for folder in sorted(Path(dest_root).glob(".download-*")):
        if folder.is_dir() and _is_abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


def _is_abandoned(folder: Path) -> bool:
    if fcntl is None:
        return time.time() - folder.stat().st_mtime > _STALE_SECONDS
    lock = folder / _LOCK_NAME
    if not lock.is_file():  # killed between creating the folder and its lock, or a download without one
        return time.time() - folder.stat().st_mtime > 60
    try:
        with lock.open("rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # a live download holds it
    except OSError:
        return False
    return True


def _text_lines(path: Path, kind: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line number, text)`` of a UTF-8 file; a byte that is not UTF-8 is an error naming file:line.

    A UTF-8 byte-order mark at the start (Notepad and Excel write one) is skipped.
    """
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield lineno, raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DatasetFormatError(
                    f"{path}:{lineno}: byte 0x{raw[err.start]:02x} at column {err.start + 1} is not UTF-8; the "
                    f"{kind} file must be UTF-8 text. Re-save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)."
                ) from None


def _check_encodable(value: str, where: str, field: str) -> None:
    """Refuse a lone surrogate (an escape such as ``\\ud800`` without its pair): no model can encode it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise DatasetFormatError(
            f'{where}: "{field}" holds a lone surrogate {value[err.start]!r} at character {err.start}, which is '
            "not a character: the JSON has a broken \\uXXXX escape. Fix or remove it."
        ) from None


def _read_jsonl(path: Path, kind: str) -> dict[str, dict]:
    """Read a BEIR jsonl file into ``{_id: record}``, failing with file and line on any malformed row."""
    records: dict[str, dict] = {}
    for lineno, line in _text_lines(path, kind):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatasetFormatError(f"{where}: invalid JSON in the {kind} file ({err.msg}).") from err
        if not isinstance(record, dict):
            raise DatasetFormatError(f"{where}: expected a JSON object, got {type(record).__name__}.")
        doc_id, text = record.get("_id"), record.get("text")
        if not isinstance(doc_id, str) or not doc_id:
            raise DatasetFormatError(f'{where}: missing or non-string "_id".')
        if not isinstance(text, str):
            raise DatasetFormatError(f'{where}: missing or non-string "text" for _id {doc_id!r}.')
        if record.get("title") is not None and not isinstance(record["title"], str):
            raise DatasetFormatError(
                f'{where}: "title" of _id {doc_id!r} is {type(record["title"]).__name__}, not a string; '
                'write it as a string, or leave it out (or "") for no title.'
            )
        for field in ("_id", "title", "text"):
            if isinstance(record.get(field), str):
                _check_encodable(record[field], where, field)
        if doc_id in records:
            raise DatasetFormatError(f"{where}: duplicate _id {doc_id!r} in the {kind} file.")
        records[doc_id] = record
    if not records:
        raise DatasetFormatError(f"{path}: the {kind} file is empty.")
    return records


def available_splits(path: Path) -> list[str]:
    """Splits with a ``qrels/<split>.tsv`` file in a BEIR folder."""
    return sorted(p.stem for p in (Path(path) / "qrels").glob("*.tsv"))


def _read_qrels(path: Path, corpus: dict, queries: dict) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    first_seen: dict[tuple[str, str], int] = {}
    lines = _text_lines(path, "qrels")
    header = next(lines, None)
    fields = header[1].rstrip("\r\n").split("\t") if header else []
    if [h.strip() for h in fields[:3]] != ["query-id", "corpus-id", "score"]:
        raise DatasetFormatError(f"{path}:1: expected the header 'query-id<TAB>corpus-id<TAB>score'.")
    for lineno, line in lines:
        row = line.rstrip("\r\n").split("\t")
        if not "".join(row).strip():
            continue
        where = f"{path}:{lineno}"
        if len(row) != 3:
            raise DatasetFormatError(f"{where}: expected 3 tab-separated fields, got {len(row)}.")
        query_id, doc_id, score = (field.strip() for field in row)
        try:
            grade = int(score)
        except ValueError:
            raise DatasetFormatError(f"{where}: score {score!r} is not an integer.") from None
        if query_id not in queries:
            raise DatasetFormatError(f"{where}: query-id {query_id!r} is not in queries.jsonl.")
        if doc_id not in corpus:
            raise DatasetFormatError(f"{where}: corpus-id {doc_id!r} is not in corpus.jsonl.")
        if (query_id, doc_id) in first_seen:
            raise DatasetFormatError(
                f"{where}: ({query_id!r}, {doc_id!r}) is judged twice (first on line "
                f"{first_seen[query_id, doc_id]}); keep one row per query and document."
            )
        first_seen[query_id, doc_id] = lineno
        qrels.setdefault(query_id, {})[doc_id] = grade
    if not qrels:
        raise DatasetFormatError(f"{path}: no relevance judgements.")
    return qrels


def check_split(split: str) -> str:
    """Return ``split`` if it is a split name (``test``, ``train``, ``dev``), or raise naming it.

    A split selects ``qrels/<split>.tsv``; a path (``../x``, ``a/b``) could read a file outside ``qrels/``.

    Examples
    --------
    >>> check_split("test")
    'test'
    """
    if not isinstance(split, str) or not _SPLIT_NAME.fullmatch(split) or ".." in split:
        raise ValueError(
            f"split {split!r} is not a split name: pass a name such as 'test' or 'train' (letters, digits, "
            "'_', '-', '.'), not a path; it selects qrels/<split>.tsv of the data set."
        )
    return split


def load_beir(name_or_path: str | os.PathLike[str], split: str = "test", download: bool = True) -> RetrievalDataset:
    """Load and validate one split of a BEIR data set.

    Parameters
    ----------
    name_or_path : str or path
        A known name (``"scifact"``), a name under ``$LESSONLIB_DATA_DIR`` or the cache, or a folder.
    split : str
        Which ``qrels/<split>.tsv`` to use; only the queries judged there are kept.
    download : bool
        Download a known data set that is nowhere on disk.

    Raises
    ------
    DatasetNotFoundError, DatasetFormatError
        With the file (and line) at fault and what to do.
    ValueError
        ``split`` is a path rather than a name.
    """
    check_split(split)
    path = find_dataset(name_or_path, download=download)
    qrels_path = path / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise DatasetNotFoundError(
            f"{path} has no split {split!r} (no {qrels_path.name} in qrels/). "
            f"Available splits: {', '.join(available_splits(path)) or 'none'}."
        )
    corpus_records = _read_jsonl(path / "corpus.jsonl", "corpus")
    query_records = _read_jsonl(path / "queries.jsonl", "queries")
    corpus = {i: {"title": str(r.get("title") or ""), "text": r["text"]} for i, r in corpus_records.items()}
    all_queries = {i: r["text"] for i, r in query_records.items()}
    qrels = _read_qrels(qrels_path, corpus, all_queries)
    queries = {i: text for i, text in all_queries.items() if i in qrels}
    name = path.name if Path(name_or_path).expanduser().is_dir() else str(name_or_path)
    return RetrievalDataset(name=name, path=path, split=split, corpus=corpus, queries=queries, qrels=qrels)


def dataset_status() -> list[dict[str, str]]:
    """For each known data set: where it is on disk, or where it would be downloaded from."""
    rows = []
    for name, source in sorted(SOURCES.items()):
        found = locate_dataset(name)
        rows.append(
            {
                "name": name,
                "status": f"on disk: {found}" if found else f"not on disk; would download {source.url}",
                "citation": source.citation,
            }
        )
    return rows
