"""Fixtures for the functional tests that need AWS's own runtime client, ``awslambdaric``."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, zip_files

RIC_VERSION = "4.2.2"
RIC_CACHE = ROOT / "tests" / "fixtures" / ".cache" / "ric"


def python311() -> Path | None:
    """A real python3.11 binary (awslambdaric's compiled part is cp311)."""
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    if sys.version_info[:2] == (3, 11) and base.is_file():
        return base
    home = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    for candidate in sorted(glob.glob(f"{home}/versions/3.11.*/bin/python3.11"), reverse=True):
        return Path(candidate).resolve()
    which = shutil.which("python3.11")
    return Path(which).resolve() if which and "shims" not in which else None


@pytest.fixture(scope="session")
def ric_tree() -> Path:
    """awslambdaric (and its dependencies) installed once into tests/fixtures/.cache/ric."""
    marker = RIC_CACHE / f".installed-{RIC_VERSION}"
    if marker.exists():
        return RIC_CACHE
    staging = RIC_CACHE.with_name(f"ric.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--target", str(staging),
        "--only-binary=:all:", "--python-version", "3.11", f"awslambdaric=={RIC_VERSION}",
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.skip("pip install awslambdaric timed out")
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        pytest.skip(f"cannot pip install awslambdaric=={RIC_VERSION}: {result.stderr.strip()[-500:]}")
    (staging / marker.name).touch()
    shutil.rmtree(RIC_CACHE, ignore_errors=True)
    try:
        staging.rename(RIC_CACHE)
    except OSError:  # another session got there first
        shutil.rmtree(staging, ignore_errors=True)
        if not marker.exists():
            raise
    return RIC_CACHE


def ric_zip(tree: Path, interpreter: Path, app: str) -> bytes:
    """A zip of ``tree`` (awslambdaric and its dependencies), ``app.py`` and a ``bootstrap`` that
    runs ``interpreter -m awslambdaric app.handler``."""
    files: dict[str, str | bytes] = {}
    for file in sorted(tree.rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts and not file.name.startswith(".installed"):
            files[str(file.relative_to(tree))] = file.read_bytes()
    files["app.py"] = app
    files["bootstrap"] = (
        f'#!/bin/sh\nexport PYTHONPATH="$LAMBDA_TASK_ROOT"\nexec {interpreter} -m awslambdaric app.handler\n'
    )
    modes = {name: 0o755 if name == "bootstrap" or name.endswith(".so") else 0o644 for name in files}
    return zip_files(files, modes)


@pytest.fixture(scope="module")
def ric_interpreter() -> Iterator[Path]:
    interpreter = python311()
    if interpreter is None:
        pytest.skip("no python3.11 binary on this host for awslambdaric (cp311)")
    yield interpreter
