"""Downloading a data set: checksums verified, nothing half-written left on disk, and no other network.

The only network a test touches is an HTTP server on 127.0.0.1 that the test itself starts. Faults are
injected there: a connection closed mid-transfer, a chunked transfer cut off, a stalled server, a corrupt
zip whose checksums match, and a download killed with SIGKILL. Every test is bounded in time by the
download's own socket timeout (a second or two) and by explicit deadlines.
"""

import hashlib
import http.server
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from conftest import write_beir
from lessonlib.datasets import load_beir
from lessonlib.download import (
    DatasetSource,
    DownloadError,
    download_dataset,
    fcntl,
    remove_stale_downloads,
)

#: Seconds any one fault-injection download may take; the socket timeout given to it is far below.
DEADLINE = 15.0


def _zip_of(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, Path("mini") / path.relative_to(folder))
    return buffer.getvalue()


@pytest.fixture
def server(tmp_path):
    """Serve {path: bytes} on 127.0.0.1; yields (base_url, files)."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = files.get(self.path)
            if callable(body):  # a fault-injection behaviour: it writes the response itself
                body(self)
                return
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    httpd.shutdown()
    httpd.server_close()


def _source(url: str, body: bytes, **override) -> DatasetSource:
    digests = {"md5": hashlib.md5(body).hexdigest(), "sha256": hashlib.sha256(body).hexdigest()}
    digests.update(override)
    return DatasetSource(url=url, **digests)


# The one place sockets are enabled: the server above binds 127.0.0.1 and every URL points at it.
pytestmark = pytest.mark.enable_socket


def test_download_verifies_and_extracts(server, tmp_path):
    base, files = server
    files["/mini.zip"] = body = _zip_of(write_beir(tmp_path / "src"))
    dest = tmp_path / "cache"
    folder = download_dataset("mini", _source(base + "/mini.zip", body), dest_root=dest)
    assert folder == dest / "mini"
    assert load_beir(folder).query_ids == ["q1", "q2"]
    assert sorted(p.name for p in dest.iterdir()) == ["mini"]  # no temporary files left


@pytest.mark.parametrize("field", ["md5", "sha256"])
def test_checksum_mismatch_leaves_nothing(server, tmp_path, field):
    base, files = server
    files["/mini.zip"] = body = _zip_of(write_beir(tmp_path / "src"))
    dest = tmp_path / "cache"
    with pytest.raises(DownloadError, match="expected 0000"):
        download_dataset("mini", _source(base + "/mini.zip", body, **{field: "0000"}), dest_root=dest)
    assert list(dest.iterdir()) == []


def test_http_error_leaves_nothing(server, tmp_path):
    base, _ = server
    dest = tmp_path / "cache"
    with pytest.raises(DownloadError, match="404"):
        download_dataset("mini", _source(base + "/missing.zip", b""), dest_root=dest)
    assert list(dest.iterdir()) == []


def test_a_refused_connection_names_the_cause_and_leaves_nothing(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on: bound, then closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dest = tmp_path / "cache"
    with pytest.raises(DownloadError, match=r"failed \(ConnectionRefusedError: .*\. Nothing was kept; check the"):
        download_dataset("mini", _source(f"http://127.0.0.1:{port}/mini.zip", b""), dest_root=dest, timeout=2)
    assert list(dest.iterdir()) == []


def test_a_zip_without_a_beir_folder_is_rejected(server, tmp_path):
    base, files = server
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("readme.txt", "not a data set")
    files["/other.zip"] = body = buffer.getvalue()
    dest = tmp_path / "cache"
    with pytest.raises(DownloadError, match="exactly one BEIR folder"):
        download_dataset("mini", _source(base + "/other.zip", body), dest_root=dest)
    assert list(dest.iterdir()) == []


# --- fault injection ------------------------------------------------------------------------------------


def _partial(body: bytes, *, chunked: bool = False, stall: threading.Event | None = None):
    """A behaviour that announces all of ``body`` but sends half, then closes (or stalls until released)."""

    def respond(handler):
        half = body[: len(body) // 2]
        handler.send_response(200)
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(f"{len(half):x}\r\n".encode() + half + b"\r\n" if chunked else half)
        handler.wfile.flush()
        if stall is not None:
            stall.wait(DEADLINE)
        handler.close_connection = True

    return respond


@pytest.mark.parametrize("chunked", [False, True], ids=["closed-mid-transfer", "chunked-dropped"])
def test_a_transfer_cut_off_is_a_download_error_and_leaves_nothing(server, tmp_path, chunked):
    # Before, the chunked case escaped as http.client.IncompleteRead with a traceback.
    base, files = server
    body = _zip_of(write_beir(tmp_path / "src"))
    files["/mini.zip"] = _partial(body, chunked=chunked)
    dest = tmp_path / "cache"
    start = time.perf_counter()
    with pytest.raises(DownloadError) as err:
        download_dataset("mini", _source(base + "/mini.zip", body), dest_root=dest, timeout=2)
    assert time.perf_counter() - start < DEADLINE
    message = str(err.value)
    assert f"Downloading mini from {base}/mini.zip" in message
    assert "IncompleteRead" in message or "stopped after" in message
    assert "Nothing was kept; " in message and "try again" in message
    assert list(dest.iterdir()) == []


def test_a_stalled_server_times_out_within_the_timeout(server, tmp_path):
    base, files = server
    body = _zip_of(write_beir(tmp_path / "src"))
    release = threading.Event()
    files["/mini.zip"] = _partial(body, stall=release)
    dest = tmp_path / "cache"
    start = time.perf_counter()
    try:
        with pytest.raises(DownloadError, match=r"failed \((TimeoutError|timeout)"):
            download_dataset("mini", _source(base + "/mini.zip", body), dest_root=dest, timeout=1)
    finally:
        release.set()
    assert time.perf_counter() - start < 5
    assert list(dest.iterdir()) == []


def _corrupt_deflate_zip(folder: Path) -> bytes:
    """A zip whose first member's deflate stream starts with a reserved block type: zlib refuses it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, Path("mini") / path.relative_to(folder))
    raw = bytearray(buffer.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(raw))).infolist()[0]
    name_len, extra_len = (
        int.from_bytes(raw[info.header_offset + i : info.header_offset + i + 2], "little") for i in (26, 28)
    )
    raw[info.header_offset + 30 + name_len + extra_len] = 0xFF  # BFINAL=1, BTYPE=11 (reserved)
    return bytes(raw)


def test_a_corrupt_deflate_stream_with_matching_checksums_is_a_download_error(server, tmp_path):
    # The checksums are of the corrupt bytes, so only extraction can tell; before, zlib.error escaped.
    base, files = server
    files["/bad.zip"] = body = _corrupt_deflate_zip(write_beir(tmp_path / "src"))
    dest = tmp_path / "cache"
    with pytest.raises(DownloadError) as err:
        download_dataset("mini", _source(base + "/bad.zip", body), dest_root=dest, timeout=2)
    message = str(err.value)
    assert message.startswith(f"{base}/bad.zip is not a valid zip (error: Error -3")
    assert "Nothing was kept; try again" in message
    assert list(dest.iterdir()) == []


# --- a download killed half-way -----------------------------------------------------------------------------

needs_locks = pytest.mark.skipif(fcntl is None, reason="leftovers are told from live downloads by fcntl locks")

_CHILD = """
import sys
from lessonlib.download import DatasetSource, download_dataset
download_dataset("mini", DatasetSource(sys.argv[1], "0" * 32, "0" * 64), dest_root=sys.argv[2], timeout=60)
"""


def _partial_archives(dest: Path) -> list[Path]:
    """The files holding bytes in the download folders of ``dest``: pooch streams to a temporary name there."""
    return [p for p in dest.glob(".download-mini-*/*") if p.is_file() and p.stat().st_size]


@needs_locks
def test_a_killed_download_leaves_a_folder_the_next_download_removes(server, tmp_path):
    base, files = server
    # A document of 256 KiB of hex (stored, not deflated): half the archive is more than any write buffer.
    big = {"_id": "d9", "title": "", "text": os.urandom(1 << 17).hex()}
    corpus = [{"_id": "d1", "title": "", "text": "Cats purr."}, {"_id": "d2", "title": "", "text": "Dogs bark."}, big]
    body = _zip_of(write_beir(tmp_path / "src", corpus=corpus))
    release = threading.Event()
    files["/slow.zip"] = _partial(body, stall=release)  # half the archive arrives, then the server waits
    files["/mini.zip"] = body
    dest = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, base + "/slow.zip", str(dest)], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + DEADLINE * 2  # the child's imports come first
        while not _partial_archives(dest):
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never started writing the archive"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(DEADLINE)
    finally:
        release.set()
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    (leftover,) = dest.glob(".download-mini-*")
    assert {p.parent for p in _partial_archives(dest)} == {leftover}  # SIGKILL runs no clean-up: it stays

    folder = download_dataset("mini", _source(base + "/mini.zip", body), dest_root=dest, timeout=2)
    assert load_beir(folder).query_ids == ["q1", "q2"]
    assert sorted(p.name for p in dest.iterdir()) == ["mini"]  # the leftover is gone


@needs_locks
def test_a_live_download_folder_is_never_removed(tmp_path):
    # Two processes may download into one cache at once: a folder whose lock is held belongs to a live one.
    live = tmp_path / ".download-mini-live"
    live.mkdir()
    (live / "archive.zip").write_bytes(b"in progress")
    abandoned = tmp_path / ".download-mini-dead"
    abandoned.mkdir()
    (abandoned / "owner.lock").write_bytes(b"")
    (abandoned / "archive.zip").write_bytes(b"partial")
    with (live / "owner.lock").open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the live download holds it
        assert remove_stale_downloads(tmp_path) == [abandoned]
        assert (live / "archive.zip").read_bytes() == b"in progress"
    assert remove_stale_downloads(tmp_path) == [live]  # released: its owner is gone
