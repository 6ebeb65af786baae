"""Build steps' decisions (``flare.build.manifest``) and the cache's hits and misses
(``flare.build.dependency_cache``), with a fake tool runner: no pip, npm or network."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest

from flare.build import manifest
from flare.build.dependency_cache import DependencyCache, default_root
from flare.build.package import package_zip
from flare.errors import BuildFailed


def _requirements(directory: Path, text: str = "tomli==2.0.1\n") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "requirements.txt").write_text(text)
    return directory


class FakeTool:
    """Records each command; "installs" by writing ``installed.py`` into pip's ``--target`` (or
    ``node_modules`` in npm's directory); fails with ``returncode`` when set."""

    def __init__(self, returncode: int = 0) -> None:
        self.commands: list[list[str]] = []
        self.returncode = returncode

    def __call__(self, command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        self.commands.append(command)
        if self.returncode == 0 and "--target" in command:
            Path(command[command.index("--target") + 1], "installed.py").write_text("WHO = 'dep'\n")
        elif self.returncode == 0:
            (cwd / "node_modules").mkdir()
            (cwd / "node_modules" / "dep.js").write_text("module.exports = 1\n")
        return subprocess.CompletedProcess(command, self.returncode, "out", "the tool's complaint")


def _cache(tmp_path: Path, tool: FakeTool) -> DependencyCache:
    return DependencyCache(
        tmp_path / "cache", run=tool, interpreter_for=lambda _minor: Path("/py/bin/python3.12")
    )


@pytest.mark.parametrize(
    ("files", "runtime", "tool"),
    [
        ({"requirements.txt": "six\n"}, "python3.12", "pip"),
        ({"requirements.txt": "# nothing\n\n"}, "python3.12", None),
        ({"package.json": "{}"}, "nodejs20.x", "npm"),
        ({"requirements.txt": "six\n"}, "nodejs20.x", None),
        ({"package.json": "{}"}, "python3.12", None),
        ({"requirements.txt": "six\n"}, "java17", None),
        ({}, "python3.12", None),
    ],
)
def test_the_manifest_is_the_runtimes_own(
    tmp_path: Path, files: dict[str, str], runtime: str, tool: str | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    found = manifest.find(tmp_path, runtime)
    assert (found.tool if found else None) == tool


def test_the_key_changes_with_the_manifest_runtime_architecture_and_lock(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"dependencies": {"a": "1"}}')
    node = manifest.find(tmp_path, "nodejs20.x")
    assert node is not None
    keys = {node.key(runtime, arch) for runtime, arch in [("nodejs20.x", "x86_64"), ("nodejs22.x", "x86_64")]}
    keys.add(node.key("nodejs20.x", "arm64"))
    (tmp_path / "package-lock.json").write_text("{}")
    locked = manifest.find(tmp_path, "nodejs20.x")
    assert locked is not None and locked.locked
    keys.add(locked.key("nodejs20.x", "x86_64"))
    assert len(keys) == 4
    assert manifest.find(tmp_path, "nodejs20.x") == locked  # the same files, the same key


def test_pip_without_the_runtimes_interpreter_asks_for_wheels_of_that_version(tmp_path: Path) -> None:
    own = manifest.pip_command("3.9", tmp_path / "r.txt", tmp_path / "t", Path("/py39"), Path("/host"), False)
    assert own[:3] == ["/py39", "-m", "pip"] and "--python-version" not in own
    assert "--only-binary=:all:" not in own
    cross = manifest.pip_command("3.9", tmp_path / "r.txt", tmp_path / "t", None, Path("/host"), False)
    assert cross[0] == "/host"
    assert cross[cross.index("--python-version") + 1] == "3.9"
    assert "--only-binary=:all:" in cross and "--platform" in cross


def test_npm_uses_ci_with_a_lock_and_install_without(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text("{}")
    loose = manifest.find(tmp_path, "nodejs20.x")
    (tmp_path / "package-lock.json").write_text("{}")
    locked = manifest.find(tmp_path, "nodejs20.x")
    assert loose is not None and locked is not None
    assert manifest.npm_command(loose, False)[:3] == ["npm", "install", "--omit=dev"]
    assert manifest.npm_command(locked, False)[:3] == ["npm", "ci", "--omit=dev"]
    assert "--ignore-scripts" in manifest.npm_command(locked, True)


def test_a_second_build_of_the_same_manifest_runs_no_tool(tmp_path: Path) -> None:
    code, tool = _requirements(tmp_path / "fn"), FakeTool()
    cache = _cache(tmp_path, tool)
    found = manifest.find(code, "python3.12")
    assert found is not None
    first = cache.ensure(found, code, "python3.12", "x86_64")
    second = cache.ensure(found, code, "python3.12", "x86_64")
    assert (first.installed, second.installed) == (True, False)
    assert first.path == second.path and (first.path / "installed.py").is_file()
    assert len(tool.commands) == 1 and tool.commands[0][0] == "/py/bin/python3.12"
    assert cache.lookup(found, "python3.12", "arm64") is None


def test_a_changed_manifest_installs_again(tmp_path: Path) -> None:
    code, tool = _requirements(tmp_path / "fn"), FakeTool()
    cache = _cache(tmp_path, tool)
    before = manifest.find(code, "python3.12")
    _requirements(code, "tomli==2.0.2\n")
    after = manifest.find(code, "python3.12")
    assert before is not None and after is not None
    assert cache.ensure(before, code, "python3.12", "x86_64").installed
    assert cache.ensure(after, code, "python3.12", "x86_64").installed
    assert len(tool.commands) == 2


def test_a_failed_install_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    code, tool = _requirements(tmp_path / "fn"), FakeTool(returncode=1)
    cache = _cache(tmp_path, tool)
    found = manifest.find(code, "python3.12")
    assert found is not None
    with pytest.raises(BuildFailed) as failed:
        cache.ensure(found, code, "python3.12", "x86_64")
    assert "the tool's complaint" in failed.value.output
    assert list((tmp_path / "cache").iterdir()) == []


def test_npm_runs_in_a_directory_of_copies_of_the_manifest(tmp_path: Path) -> None:
    code, tool = tmp_path / "fn", FakeTool()
    code.mkdir()
    (code / "package.json").write_text('{"dependencies": {"dep": "1"}}')
    found = manifest.find(code, "nodejs20.x")
    assert found is not None
    built = _cache(tmp_path, tool).ensure(found, code, "nodejs20.x", "x86_64")
    assert (built.path / "node_modules" / "dep.js").is_file()
    assert not (code / "node_modules").exists()


def test_the_package_is_the_dependencies_with_the_code_over_them(tmp_path: Path) -> None:
    deps, code = tmp_path / "deps", tmp_path / "code"
    (deps / "__pycache__").mkdir(parents=True)
    code.mkdir()
    (deps / "dep.py").write_text("dep")
    (deps / "app.py").write_text("the dependency's")
    (deps / "__pycache__" / "dep.pyc").write_text("junk")
    (code / "app.py").write_text("the code's")
    archive = zipfile.ZipFile(io.BytesIO(package_zip(code, lambda _path: True, deps)))
    assert sorted(archive.namelist()) == ["app.py", "dep.py"]
    assert archive.read("app.py") == b"the code's"


def test_the_cache_is_where_the_environment_says(tmp_path: Path) -> None:
    assert default_root({"FLARE_BUILD_CACHE": str(tmp_path)}) == tmp_path
    assert default_root({"XDG_CACHE_HOME": "/x"}) == Path("/x/flare/dependencies")
    assert default_root({"HOME": "/home/u"}) == Path("/home/u/.cache/flare/dependencies")
