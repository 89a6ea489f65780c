"""Downloading a data set: a checksummed archive fetched, extracted, and renamed into place.

A download killed before it could clean up (SIGKILL, a power cut) leaves its folder ``.download-<name>-*``;
the next download removes it (``remove_stale_downloads``).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import tempfile
import time
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

from lessonlib.datasets import DATA_DIR_ENV, DatasetNotFoundError, datasets_cache, is_beir_folder, locate_dataset
from lessonlib.storage import publish_dir

#: Where a download in progress keeps its lock; a folder ``.download-<name>-*`` whose lock nobody holds
#: belongs to a download that was killed, and the next download removes it.
_LOCK_NAME = "owner.lock"

#: On a system without ``fcntl`` (Windows), leftovers older than this many seconds are removed instead.
_STALE_SECONDS = 24 * 3600


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
        folders = sorted({p.parent for p in extracted.rglob("corpus.jsonl") if is_beir_folder(p.parent)})
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
