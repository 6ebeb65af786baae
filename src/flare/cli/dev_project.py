"""What ``flare dev`` deploys: the project found in a directory (pure: reads, never writes).

In this order, the first found wins:

1. an AWS SAM template: ``template.yaml``, ``template.yml`` or ``template.json`` (as ``sam``
   looks for them);
2. a Serverless Framework project: ``serverless.yml`` or ``serverless.yaml``;
3. a **directory of functions**: the directory itself, when it holds a handler file (one
   function, named after the directory), else each subdirectory that holds one (a function per
   subdirectory, named after it). The handler file decides the handler and runtime:
   ``app.py`` → ``app.handler`` (python3.12), ``lambda_function.py`` →
   ``lambda_function.lambda_handler`` (python3.12), ``index.mjs`` / ``index.js`` →
   ``index.handler`` (nodejs20.x); the first that exists, in that order.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

SAM_FILES = ("template.yaml", "template.yml", "template.json")
SERVERLESS_FILES = ("serverless.yml", "serverless.yaml")
# handler file => (handler, runtime) of a function in a directory of functions
HANDLER_FILES = (
    ("app.py", "app.handler", "python3.12"),
    ("lambda_function.py", "lambda_function.lambda_handler", "python3.12"),
    ("index.mjs", "index.handler", "nodejs20.x"),
    ("index.js", "index.handler", "nodejs20.x"),
)


class ProjectKind(enum.Enum):
    SAM = "SAM template"
    SERVERLESS = "serverless.yml"
    FUNCTIONS = "directory of functions"


@dataclass(frozen=True)
class LocalFunction:
    """A function of a directory of functions: its name, code directory, handler and runtime."""

    name: str
    directory: Path
    handler: str
    runtime: str


@dataclass(frozen=True)
class Project:
    """A project ``flare dev`` runs: ``path`` is the template (SAM, Serverless) or the directory
    (a directory of functions, whose ``functions`` are listed)."""

    kind: ProjectKind
    path: Path
    functions: tuple[LocalFunction, ...] = ()


def local_function(directory: Path) -> LocalFunction | None:
    """The function ``directory`` holds (see the module docstring), or None."""
    for file, handler, runtime in HANDLER_FILES:
        if (directory / file).is_file():
            return LocalFunction(directory.name, directory, handler, runtime)
    return None


def find_project(directory: Path) -> Project | None:
    """The project in ``directory`` (made absolute), or None when it holds none."""
    directory = directory.resolve()
    for name in SAM_FILES:
        if (directory / name).is_file():
            return Project(ProjectKind.SAM, directory / name)
    for name in SERVERLESS_FILES:
        if (directory / name).is_file():
            return Project(ProjectKind.SERVERLESS, directory / name)
    itself = local_function(directory)
    if itself is not None:
        return Project(ProjectKind.FUNCTIONS, directory, (itself,))
    children = sorted(
        child for child in directory.iterdir() if child.is_dir() and not child.name.startswith(".")
    )
    functions = tuple(found for found in map(local_function, children) if found is not None)
    return Project(ProjectKind.FUNCTIONS, directory, functions) if functions else None
