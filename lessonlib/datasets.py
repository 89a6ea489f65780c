"""BEIR-layout retrieval data sets: find them on disk, load and validate them.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl`` (``_id``, ``text``)
and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``, with a header row).

``find_dataset`` looks, in order: at the path it is given; in each folder of ``$LESSONLIB_DATA_DIR``
(``os.pathsep``-separated); in the cache (``<cache>/datasets``); and finally downloads the official BEIR
zip for a known name (``lessonlib.download``). Thakur et al., "BEIR", NeurIPS 2021 Datasets and Benchmarks.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lessonlib.environment import cache_dir

DATA_DIR_ENV = "LESSONLIB_DATA_DIR"
REQUIRED_FILES = ("corpus.jsonl", "queries.jsonl")

#: A split is a name (``test``, ``train``, ``dev``), never a path.
_SPLIT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class DatasetNotFoundError(FileNotFoundError):
    """A data set is neither on disk nor downloadable; the message lists where it looked."""


class DatasetFormatError(ValueError):
    """A data file is malformed; the message names the file and line."""


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


def is_beir_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding a BEIR data set's ``corpus.jsonl`` and ``queries.jsonl``."""
    path = Path(path)
    return path.is_dir() and all((path / f).is_file() for f in REQUIRED_FILES)


def datasets_cache() -> Path:
    """Folder where downloaded data sets are kept: ``<cache>/datasets``."""
    return cache_dir() / "datasets"


def locate_dataset(name_or_path: str | os.PathLike[str]) -> Path | None:
    """Return the folder holding a data set, looking on disk only (path, data folders, cache), or ``None``."""
    path = Path(name_or_path).expanduser()
    if is_beir_folder(path):
        return path
    name = str(name_or_path)
    if os.sep in name or (os.altsep and os.altsep in name):
        return None  # a path that does not hold a BEIR folder; never treat it as a name
    for folder in [*_data_dirs(), datasets_cache()]:
        if is_beir_folder(folder / name):
            return folder / name
    return None


def find_dataset(name_or_path: str | os.PathLike[str], download: bool = True) -> Path:
    """Return the folder of a BEIR data set, downloading a known one into the cache if it is nowhere on disk.

    Parameters
    ----------
    name_or_path : str or path
        A folder, or a name looked up under ``$LESSONLIB_DATA_DIR`` and the cache (``locate_dataset``).
    download : bool
        Download a known name (``lessonlib.download.SOURCES``) that is nowhere on disk.

    Raises
    ------
    DatasetNotFoundError
        Not on disk, and either unknown or ``download=False``; the message says where it looked.
    DownloadError
        The download failed (``lessonlib.download.download_dataset``); nothing was left on disk.
    """
    found = locate_dataset(name_or_path)
    if found is not None:
        return found
    # Imported here, not at the top: the download module checks what it extracts with this module's
    # is_beir_folder, so it imports this one (and pooch, which a data set already on disk does not need).
    from lessonlib.download import SOURCES, download_dataset

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
