"""Measure the spread of the lessons' claims over bfloat16 on/off, training seeds and CPU kernel sets.

Each claims check (``lessonlib.claims``) asserts what a lesson's prose says about numbers that vary with the
hardware. Its bounds come from this script: it executes the notebooks with papermill under every setting
asked for, with ``$LESSONLIB_CLAIMS_RECORD`` set so that each claim records its numbers (and a failing one
prints its ✘ line instead of stopping the run), then prints, per claim and number, the smallest and largest
value seen and whether the claim held everywhere.

Settings:

- ``--seeds``: values of the notebooks' ``TRAINING_SEED`` parameter (papermill injects it);
- ``--bf16``: ``auto`` (what the hardware picks) and/or ``0`` (``LESSONLIB_BF16=0``, float32 everywhere);
- ``--cpus``: ``native``, or an emulation of another CPU through the kernels' own switches:
  ``no-amx`` (bfloat16 through AVX512-BF16 instead of AMX: ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16``) and
  ``avx2`` (an AVX2-only CPU: ``ATEN_CPU_CAPABILITY=avx2``, ``ONEDNN_MAX_CPU_ISA=AVX2``,
  ``MKL_ENABLE_INSTRUCTIONS=AVX2``). ``avx2`` changes float32 results too, so it gets an embedding cache
  of its own and the base model's embeddings are computed with its kernels (``no-amx`` leaves float32 as
  it is and shares the cache).

Example (about 40 minutes for lesson 04 on a 2-core CPU, most of it training)::

    python benchmarks/claims_spread.py notebooks/04_domain_fine_tuning.ipynb --seeds 0 1 --bf16 auto 0
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from collections import defaultdict
from pathlib import Path

import papermill

CPU_PROFILES: dict[str, dict[str, str]] = {
    "native": {},
    "no-amx": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}
#: Profiles whose float32 results differ from the native ones: they must not share the embedding cache.
OWN_CACHE = {"avx2"}


def run_setting(notebook: Path, out: Path, seed: int, bf16: str, cpu: str) -> tuple[list[dict], float]:
    """Execute ``notebook`` under one setting; return the claims it recorded and the seconds it took."""
    tag = f"{notebook.stem}-seed{seed}-bf16{bf16}-{cpu}"
    record = out / f"{tag}.jsonl"
    record.unlink(missing_ok=True)
    env = {"LESSONLIB_CLAIMS_RECORD": str(record.resolve()), **CPU_PROFILES[cpu]}
    if bf16 == "0":
        env["LESSONLIB_BF16"] = "0"
    if cpu in OWN_CACHE:
        env["LESSONLIB_CACHE"] = str((out / f"cache-{cpu}").resolve())
    saved = {key: os.environ.get(key) for key in [*env, "LESSONLIB_BF16"]}
    os.environ.pop("LESSONLIB_BF16", None)
    os.environ.update(env)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(out / f"{tag}.ipynb"),
            parameters={"TRAINING_SEED": seed},
            cwd=str(notebook.parent),
            progress_bar=False,
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    seconds = time.perf_counter() - start
    rows = [json.loads(line) for line in record.read_text().splitlines()] if record.is_file() else []
    setting = {"seed": seed, "bf16": bf16, "cpu": cpu}
    return [{**row, "setting": setting} for row in rows], seconds


def summarise(rows: list[dict]) -> str:
    """Per claim and number: the range over settings, and in how many settings the claim held."""
    by_claim: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        by_claim[(row["source"], row["statement"])].append(row)
    lines = []
    for (source, statement), entries in by_claim.items():
        held = sum(entry["holds"] for entry in entries)
        lines.append(f"{source}: {statement}  [held in {held} of {len(entries)}]")
        names = sorted({name for entry in entries for name in entry["values"]})
        for name in names:
            values = [entry["values"][name] for entry in entries if name in entry["values"]]
            lines.append(f"    {name}: {min(values):.4g} .. {max(values):.4g}  ({len(values)} settings)")
        for entry in entries:
            if not entry["holds"]:
                lines.append(f"    failed under {entry['setting']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--bf16", nargs="+", choices=["auto", "0"], default=["auto", "0"])
    parser.add_argument("--cpus", nargs="+", choices=sorted(CPU_PROFILES), default=["native"])
    parser.add_argument("--out", type=Path, default=Path("build/claims-spread"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for notebook, cpu, bf16, seed in itertools.product(args.notebooks, args.cpus, args.bf16, args.seeds):
        recorded, seconds = run_setting(notebook, args.out, seed, bf16, cpu)
        rows += recorded
        setting = f"seed={seed} bf16={bf16} cpu={cpu}"
        print(f"{notebook.name} {setting}: {len(recorded)} claims in {seconds:.0f} s", flush=True)
        (args.out / "claims.json").write_text(json.dumps(rows, indent=1))
    print(summarise(rows))


if __name__ == "__main__":
    main()
