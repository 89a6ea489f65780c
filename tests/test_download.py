"""Downloading a data set: checksums verified, nothing half-written left on disk, and no other network.

The only network a test touches is an HTTP server on 127.0.0.1 that the test itself starts.
"""

import hashlib
import http.server
import io
import threading
import zipfile
from pathlib import Path

import pytest

from conftest import write_beir
from lessonlib.datasets import DatasetSource, DownloadError, download_dataset, load_beir


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
