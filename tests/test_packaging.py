"""Packaging: environment.yml names the same packages as pyproject.toml; the console script is declared."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in pyproject["dependencies"] + pyproject["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_names = {_name(d) for d in pip_section if not d.startswith("-e")}
    assert conda_names == declared
    assert "-e ." in pip_section  # lessonlib itself
    assert any(str(d).startswith("python=") for d in env["dependencies"])


def test_console_script_and_version():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert pyproject["scripts"]["lessonlib"] == "lessonlib.cli:main"
    import lessonlib

    assert lessonlib.__version__ == pyproject["version"]
