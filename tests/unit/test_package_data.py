"""Every file the engine reads from its own source tree ships in a non-editable install too."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def shipped(relative: Path, package_data: dict[str, list[str]]) -> bool:
    """Whether setuptools' ``package-data`` globs of some package take ``relative`` (a path under
    ``src/``): a glob of package ``a.b`` matches paths relative to ``src/a/b``."""
    for package, globs in package_data.items():
        root = Path(*package.split("."))
        if root in relative.parents:
            inside = str(relative.relative_to(root))
            if any(fnmatch.fnmatch(inside, glob) for glob in globs):
                return True
    return False


def test_every_data_file_under_src_is_in_package_data() -> None:
    config = tomllib.loads((SRC.parent / "pyproject.toml").read_text())
    package_data = config["tool"]["setuptools"]["package-data"]
    data_files = [
        path.relative_to(SRC)
        for path in (SRC / "flare").rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]
    assert data_files
    missing = [str(path) for path in data_files if not shipped(path, package_data)]
    assert missing == []
