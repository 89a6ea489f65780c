"""Atomic writes: the destination is either untouched or complete, and nothing temporary is left behind."""

import os
import stat

import pytest

import lessonlib.storage as storage
from lessonlib.storage import publish_dir, scratch_dir, write_atomic


def test_write_atomic_writes_text_and_bytes(tmp_path):
    assert write_atomic(tmp_path / "a.txt", "héllo").read_text(encoding="utf-8") == "héllo"
    assert write_atomic(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_write_atomic_gives_the_permissions_of_a_plain_open(tmp_path):
    path = write_atomic(tmp_path / "shared.json", "{}")
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) & 0o044  # readable by group and others under the usual umask


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = write_atomic(tmp_path / "entry.json", "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["entry.json"]


def test_an_interrupted_write_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupted(fd, mode):
        raise KeyboardInterrupt

    monkeypatch.setattr(storage.os, "fdopen", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "entry.json", "x")
    assert list(tmp_path.iterdir()) == []


def test_scratch_dir_is_removed_when_the_build_fails(tmp_path):
    with pytest.raises(RuntimeError), scratch_dir(tmp_path / "cache", "build") as tmp:
        (tmp / "half").write_text("half-written")
        raise RuntimeError("the build failed")
    assert list((tmp_path / "cache").iterdir()) == []


def test_publish_dir_replaces_a_stale_copy_or_keeps_a_concurrent_one(tmp_path):
    target = tmp_path / "model"
    with scratch_dir(tmp_path, "build") as tmp:
        (tmp / "new").mkdir()
        (tmp / "new" / "modules.json").write_text("new")
        target.mkdir()
        (target / "modules.json").write_text("stale")
        publish_dir(tmp / "new", target, overwrite=True)
    assert (target / "modules.json").read_text() == "new"
    with scratch_dir(tmp_path, "build") as tmp:
        (tmp / "late").mkdir()
        (tmp / "late" / "modules.json").write_text("late")
        (tmp / "late" / "extra").write_text("so the folders differ")  # os.replace refuses a non-empty target
        publish_dir(tmp / "late", target, overwrite=False)
    assert (target / "modules.json").read_text() == "new"  # the copy already published is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_publish_dir_without_a_target_and_a_failing_rename_raises(tmp_path, monkeypatch):
    built = tmp_path / "built"
    built.mkdir()
    monkeypatch.setattr(storage.os, "replace", lambda s, d: (_ for _ in ()).throw(OSError("cross-device")))
    with pytest.raises(OSError, match="cross-device"):
        publish_dir(built, tmp_path / "target", overwrite=False)
    assert os.path.isdir(built)
