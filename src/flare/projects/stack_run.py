"""One run of ``flare deploy --template``: the clients it talks through and what it has done so far.

Every resource deployer gets the run: the clients of Flare's Lambda, SQS and Kinesis APIs, the
schedule routes, whether to write (``execute``) or only plan, how logical ids become names, and
the ledgers the pruning step reads (which functions the template owns, which mappings, schedules
and URLs it wants kept).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flare.projects.plan import Change
from flare.projects.sam_template import Template

if TYPE_CHECKING:
    from flare.build.package import PackageBuilder

OWNER_TAG = "flare:stack"  # on the functions and queues a template creates: its stack's name
# (method, path, body) => the JSON answer, for Flare's /flare/v1/schedules routes
ScheduleCall = Callable[[str, str, dict[str, Any] | None], dict[str, Any] | None]


@dataclass
class StackRun:
    """The state of one deploy (see the module docstring). ``stack_name`` prefixes the names of
    resources the template does not name (``<stack>-<LogicalId>``); empty, the logical id is the
    name, as ``sam local`` names functions."""

    template: Template
    lam: Any
    sqs: Any
    kinesis: Any
    schedule_call: ScheduleCall
    region: str
    account: str
    endpoint_url: str
    stack_name: str = ""
    execute: bool = True
    builder: PackageBuilder | None = None  # builds functions' code directories; None: zipped as they are
    # bind functions' (and layers') code directories for hot reload instead of uploading zips
    # (``flare dev``; control/hot_reload.py)
    watch: bool = False
    changes: list[Change] = field(default_factory=list)
    # function name => logical id, for every function the template deploys
    functions: dict[str, str] = field(default_factory=dict)
    # names of functions this run created or changed (their versions must be published anew)
    changed_functions: set[str] = field(default_factory=set)
    # names of the queues the template deploys
    queues: set[str] = field(default_factory=set)
    kept_mappings: set[str] = field(default_factory=set)
    kept_schedules: set[str] = field(default_factory=set)
    # (function name, qualifier or "") of the URLs the template wants
    kept_urls: set[tuple[str, str]] = field(default_factory=set)
    # logical id => function URL, printed at the end
    urls: dict[str, str] = field(default_factory=dict)
    _schedules: list[dict[str, Any]] | None = None

    @property
    def owner(self) -> str:
        """The stack's name, tagged on what it creates: ``stack_name``, else the template's
        directory's name."""
        return self.stack_name or self.template.directory.name

    def name(self, logical_id: str) -> str:
        """The physical name of a resource the template does not name."""
        return f"{self.stack_name}-{logical_id}" if self.stack_name else logical_id

    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"

    def schedules(self) -> list[dict[str, Any]]:
        """Flare's schedules, read once per run."""
        if self._schedules is None:
            answer = self.schedule_call("GET", "/flare/v1/schedules", None) or {}
            self._schedules = list(answer.get("Schedules") or [])
        return self._schedules


def split_function(reference: str) -> tuple[str, str]:
    """``(name, qualifier or "")`` of a function name, ``name:qualifier`` or (partial) ARN."""
    if reference.startswith("arn:"):
        parts = reference.split(":")
        return parts[6], parts[7] if len(parts) > 7 else ""
    name, _, qualifier = reference.partition(":")
    return name, qualifier
