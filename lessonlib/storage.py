"""Writing to the cache and to user paths so that nothing half-written is ever left where a reader looks.

Every file is written to a temporary name in the destination's own folder and renamed into place
(``os.replace``, atomic on POSIX and Windows within one file system); every folder (a downloaded data set,
an assembled or a trained model) is built in a scratch folder beside its destination and renamed into
place the same way. A failure at any point removes the temporary file or folder and leaves the
destination as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename it into place.

    The file gets the permissions a plain ``open(path, "w")`` would give (``0o666`` less the umask), not
    the private ``0o600`` of ``tempfile.mkstemp``, so a cache shared between users stays readable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_atomic(folder / "run.trec", "q1 Q0 d1 1 1.0 demo\\n").read_text()
    'q1 Q0 d1 1 1.0 demo\\n'
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def scratch_dir(beside: str | os.PathLike[str], prefix: str) -> Iterator[Path]:
    """A temporary folder in ``beside`` (created if missing), removed on exit whatever happens.

    Build a folder in it, then ``publish_dir`` the result: both sit on one file system, so the rename is
    atomic.
    """
    parent = Path(beside)
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix=f".{prefix}-") as tmp:
        yield Path(tmp)


def publish_dir(built: str | os.PathLike[str], target: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Rename the folder ``built`` to ``target``.

    Parameters
    ----------
    built : path
        A complete folder, usually inside a ``scratch_dir`` beside ``target``.
    target : path
    overwrite : bool
        Replace an existing ``target`` (a stale or corrupt copy). Without it, an existing complete
        ``target``, e.g. one a concurrent process has just published, is kept and ``built`` is discarded.
    """
    built, target = Path(built), Path(target)
    if overwrite and target.exists():
        shutil.rmtree(target)
    try:
        os.replace(built, target)
    except OSError:
        if overwrite or not target.is_dir():  # not a concurrent publisher that won the race
            raise
    return target
