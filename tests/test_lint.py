"""ruff (the rules in pyproject.toml, and its formatter) and mypy (on host_tools) report nothing: CI runs
`make test`, so a lint finding or a type error fails it like a wrong byte."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    """The tool beside this interpreter (the venv's), else on PATH; skip when absent."""
    beside = Path(sys.executable).parent / name
    exe = str(beside) if beside.exists() else shutil.which(name)
    if exe is None:
        pytest.skip("%s is not installed (pip install -e '.[dev]')" % name)
    return exe


def test_ruff_clean():
    proc = subprocess.run(
        [tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_ruff_format_clean():
    """Every Python file is as `ruff format` writes it (generated load_checks.py excluded)."""
    proc = subprocess.run(
        [tool("ruff"), "format", "--check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_mypy_clean():
    proc = subprocess.run([tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "no issues found" in proc.stdout
