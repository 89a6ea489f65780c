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
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename it into place.

    The temporary file is created with mode ``0o666`` for the umask to reduce, as any file the user creates
    (``tempfile.mkstemp`` would make it ``0o600``, unreadable to the rest of a group sharing a cache). On any
    failure the temporary file is removed and ``path`` is left as it was; the error propagates.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_atomic(folder / "run.trec", "q1 Q0 d1 1 1.0 demo\\n").read_text()
    'q1 Q0 d1 1 1.0 demo\\n'
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        try:
            handle = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
