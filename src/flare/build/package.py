"""A function's package as ``sam build`` lays it out: its installed dependencies at the zip's
root, its code over them (a file of the code wins over a dependency's at the same path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flare.build import manifest as manifests
from flare.build.dependency_cache import Built, DependencyCache
from flare.control.tree_zip import Keep, Reachable, anywhere, zip_trees

SKIPPED_IN_DEPENDENCIES = frozenset({"__pycache__"})


def dependency_keep(relative: str) -> bool:
    """Which files of an installed tree are packaged: all but ``__pycache__``."""
    return not SKIPPED_IN_DEPENDENCIES & set(relative.rstrip("/").split("/"))


def package_zip(code: Path, keep: Keep, dependencies: Path | None, reachable: Reachable = anywhere) -> bytes:
    """The deterministic zip of ``dependencies`` (an installed tree, or None) with the files of
    ``code`` that ``keep`` keeps (and ``reachable`` reaches) laid over it. Raises OSError."""
    trees: list[tuple[Path, Keep, Reachable]] = []
    if dependencies is not None:
        trees.append((dependencies, dependency_keep, anywhere))
    return zip_trees([*trees, (code, keep, reachable)])


class PackageBuilder:
    """Builds packages for deploys from a client (``flare deploy``, templates): installs on a
    cache miss, and ``echo``s one line per build saying whether it installed or hit the cache."""

    def __init__(self, cache: DependencyCache, echo: Callable[[str], None]) -> None:
        self.cache = cache
        self.echo = echo

    def __repr__(self) -> str:
        return f"<PackageBuilder {self.cache.root}>"

    def package(self, code: Path, keep: Keep, runtime: str, architecture: str, label: str) -> bytes:
        """The zip of the code directory ``code`` for ``runtime`` and ``architecture``, with its
        dependencies when it has a manifest. ``label`` names the function in the message.
        Raises BuildFailed, OSError."""
        manifest = manifests.find(code, runtime)
        built = None if manifest is None else self.cache.ensure(manifest, code, runtime, architecture)
        if manifest is not None and built is not None:
            self.echo(built_line(label, manifest.name, built))
        return package_zip(code, keep, None if built is None else built.path)


def built_line(label: str, manifest: str, built: Built) -> str:
    """``hello: requirements.txt installed (pip of python3.12, 2.31 s) -> <tree>`` or ``... from
    the build cache -> <tree>``."""
    if built.installed:
        return f"{label}: {manifest} installed ({built.how}, {built.seconds:.2f} s) -> {built.path}"
    return f"{label}: {manifest} from the build cache -> {built.path}"
