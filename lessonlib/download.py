"""Downloading a data set: a checksummed archive fetched with pooch, extracted, and renamed into place.

``download_dataset`` works in a scratch folder ``.download-<name>-*`` beside its destination. pooch
(``pooch.retrieve``) streams the archive to a temporary file there and keeps it only if its SHA-256 matches;
the md5 (the one BEIR publishes) is checked on the same file before pooch keeps it. The archive is then
extracted, the one BEIR folder in it found, and that folder renamed into place (``lessonlib.storage``), so
a failure at any point leaves nothing behind. A download killed before it could clean up (SIGKILL, a power
cut) leaves its scratch folder; the next download removes it (``remove_stale_downloads``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pooch
from tqdm.auto import tqdm

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from lessonlib.datasets import DATA_DIR_ENV, DatasetNotFoundError, datasets_cache, is_beir_folder, locate_dataset
from lessonlib.storage import publish_dir, scratch_dir

#: Where a download in progress keeps its lock; a folder ``.download-<name>-*`` whose lock nobody holds
#: belongs to a download that was killed, and the next download removes it.
_LOCK_NAME = "owner.lock"

#: On a system without ``fcntl`` (Windows), leftovers older than this many seconds are removed instead.
_STALE_SECONDS = 24 * 3600

_ARCHIVE = "archive.zip"


class DownloadError(RuntimeError):
    """A download failed or did not match its checksum; nothing was left on disk."""


@dataclass(frozen=True)
class DatasetSource:
    """Where to download a data set (an ``http://`` or ``https://`` URL) and the checksums its archive must match.

    Examples
    --------
    >>> SOURCES["scifact"].url.endswith("/scifact.zip")
    True
    """

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


def download_dataset(
    name: str,
    source: DatasetSource | None = None,
    dest_root: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download a BEIR zip, verify its md5 and SHA-256, and extract it into ``dest_root/name``.

    Parameters
    ----------
    name : str
        Data set name; the folder it is extracted to.
    source : DatasetSource, optional
        Defaults to ``SOURCES[name]``.
    dest_root : path, optional
        Defaults to ``datasets_cache()``.
    timeout : float
        Seconds a connection may stay silent before the download fails.

    Returns
    -------
    Path
        ``dest_root/name``, replacing any folder that was there.

    Raises
    ------
    DownloadError
        The connection failed, was cut off or timed out, the checksums do not match, or the archive is not a
        valid zip holding one BEIR folder; nothing is left on disk.
    DatasetNotFoundError
        ``source`` is not given and ``name`` is not in ``SOURCES``.

    Examples
    --------
    >>> download_dataset("scifact")  # doctest: +SKIP
    PosixPath('/home/me/.cache/lessonlib/datasets/scifact')
    """
    if source is None:
        if name not in SOURCES:
            raise DatasetNotFoundError(
                f"No download source for {name!r}; known: {', '.join(sorted(SOURCES))}. Pass a DatasetSource, "
                f"or place the data set in ${DATA_DIR_ENV} yourself."
            )
        source = SOURCES[name]
    dest_root = Path(dest_root) if dest_root is not None else datasets_cache()
    remove_stale_downloads(dest_root)
    target = dest_root / name
    with scratch_dir(dest_root, f"download-{name}") as scratch, _owner_lock(scratch):
        archive = _fetch(name, source, scratch, timeout)
        extracted = _extract(archive, scratch / "extracted", source.url)
        folders = sorted({p.parent for p in extracted.rglob("corpus.jsonl") if is_beir_folder(p.parent)})
        if len(folders) != 1:
            raise DownloadError(
                f"{source.url} does not hold exactly one BEIR folder (found {len(folders)}). Nothing was kept; "
                f"check the source's URL, or place the data set in ${DATA_DIR_ENV} yourself."
            )
        publish_dir(folders[0], target, overwrite=True)
    return target


class _ProgressBar(tqdm):
    """tqdm as pooch's progress bar: pooch tests the bar's truth, which tqdm refuses while its total is unknown."""

    def __bool__(self) -> bool:
        return True


class _Downloader:
    """pooch's HTTP downloader, plus what pooch leaves to the caller.

    pooch checks one hash (``known_hash``): this checks the md5 on the same temporary file, before pooch
    checks the SHA-256 and keeps the file, and records the SHA-256 for the error message. It also records how
    many bytes arrived, which requests' errors do not say for a chunked transfer cut off.
    """

    def __init__(self, source: DatasetSource, timeout: float, progressbar: _ProgressBar) -> None:
        self.source = source
        self.received = 0
        self.sha256: str | None = None
        self._http = pooch.HTTPDownloader(progressbar=progressbar, chunk_size=1 << 16, timeout=timeout)

    def __call__(self, url: str, output_file: str, pooch_instance: pooch.Pooch | None) -> None:
        try:
            self._http(url, output_file, pooch_instance)
        finally:
            self.received = os.path.getsize(output_file) if os.path.exists(output_file) else 0
        md5 = pooch.file_hash(output_file, alg="md5")
        self.sha256 = pooch.file_hash(output_file, alg="sha256")
        if md5 != self.source.md5.lower():
            raise DownloadError(_mismatch(url, "md5", md5, self.source.md5))


def _fetch(name: str, source: DatasetSource, folder: Path, timeout: float) -> Path:
    """Download ``source`` to ``folder/archive.zip`` with pooch; both checksums match or it is not there."""
    with _ProgressBar(unit="B", unit_scale=True, desc=f"Downloading {name}") as bar:
        downloader = _Downloader(source, timeout, bar)
        try:
            path = pooch.retrieve(
                source.url, known_hash=f"sha256:{source.sha256}", fname=_ARCHIVE, path=folder, downloader=downloader
            )
        # requests' errors are OSErrors: refused, reset, timed out, cut off (IncompleteRead, a chunked transfer
        # ended early), an HTTP error status, a URL that is not http(s) (InvalidSchema, a ValueError too).
        except OSError as err:
            # pooch writes whole chunks: up to a chunk more may have arrived before the transfer broke off.
            cut_off = (
                f": the transfer stopped after at least {downloader.received} bytes" if downloader.received else ""
            )
            raise DownloadError(
                f"Downloading {name} from {source.url} failed ({_root_cause(err, timeout)}){cut_off}. Nothing was "
                f"kept; check the connection and try again, or place the data set in ${DATA_DIR_ENV} yourself."
            ) from err
        except ValueError as err:  # pooch's verdict on the SHA-256
            if downloader.sha256 is None or downloader.sha256 == source.sha256.lower():
                raise
            raise DownloadError(_mismatch(source.url, "SHA-256", downloader.sha256, source.sha256)) from err
    return Path(path)


def _root_cause(err: BaseException, timeout: float) -> str:
    """``Type: message`` of the innermost exception behind ``err`` (requests wraps urllib3 wraps socket)."""
    seen = [err]
    while (inner := err.__cause__ or (None if err.__suppress_context__ else err.__context__)) and inner not in seen:
        seen.append(inner)
        err = inner
    if isinstance(err, TimeoutError):
        return f"TimeoutError: the server sent nothing for {timeout:g} s"
    return f"{type(err).__name__}: {err}"


def _mismatch(url: str, algo: str, got: str, want: str) -> str:
    return (
        f"{url} has {algo} {got}, expected {want}: the download is corrupt or the file changed upstream. "
        f"Nothing was kept; try again, or place the data set in ${DATA_DIR_ENV} yourself."
    )


def _extract(archive: Path, into: Path, url: str) -> Path:
    """Extract a zip into ``into``; a corrupt one is a ``DownloadError``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(into)
    # zlib.error: a corrupt deflate stream; EOFError: a member cut short; NotImplementedError: an
    # unsupported compression method. zipfile checks each member's CRC-32 (BadZipFile).
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
        raise DownloadError(
            f"{url} is not a valid zip ({type(err).__name__}: {err}). Nothing was kept; try again, "
            f"or place the data set in ${DATA_DIR_ENV} yourself."
        ) from err
    return into


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


def remove_stale_downloads(dest_root: str | os.PathLike[str]) -> list[Path]:
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


def dataset_status() -> list[dict[str, str]]:
    """For each known data set: where it is on disk, or where it would be downloaded from.

    Examples
    --------
    >>> [row["name"] for row in dataset_status()]
    ['scifact']
    """
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
