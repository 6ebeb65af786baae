"""Node.js launch plans: which ``node`` runs each ``nodejsNN.x``, its command line, NODE_PATH."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flare.sandbox.isolation import Layout
from flare.sandbox.launcher import entry_header, environment_variables, host_interpreter, plan_launch
from flare.sandbox.node_runtime import NodeBinaries, find_node_binaries, node_argv
from tests.unit.test_launcher import ENDPOINT, RUNTIME_API, STREAM, version

NODE18 = Path("/opt/node18/bin/node")
NODE20 = Path("/usr/bin/node")
NODES = NodeBinaries({"18": NODE18, "20": NODE20}, NODE20, "20")
SANDBOXED = Layout("/var/task", "/var/runtime", "/var/sdk", None, {"namespaces": True})


@pytest.mark.parametrize(("runtime", "node"), [("nodejs18.x", NODE18), ("nodejs20.x", NODE20)])
def test_node_runtime_with_its_major_runs_on_it_without_a_note(runtime: str, node: Path) -> None:
    plan = plan_launch(runtime, {}, NODES)
    assert (plan.mode, plan.node, plan.note, plan.language) == ("exec", node, None, node)
    assert plan.interpreter == host_interpreter()  # the zygote that forks it


def test_node_runtime_without_its_major_runs_on_the_hosts_node_with_a_note() -> None:
    plan = plan_launch("nodejs22.x", {}, NODES)
    assert plan.node == NODE20
    assert plan.note == "flare: node22 is not installed on this host; running on node20 instead"


def test_node_runtime_on_a_host_without_node_has_nothing_to_run() -> None:
    assert plan_launch("nodejs20.x", {}, NodeBinaries()).node is None


def test_node_environment_execs_node_with_the_runtime_client_and_a_heap_sized_from_memory() -> None:
    header = entry_header(version("nodejs20.x"), SANDBOXED, False, "/var/lang/bin/node", "20")
    assert header == {"argv": node_argv("/var/lang/bin/node", "/var/runtime", 256, "20", "20")}
    assert header["argv"][0] == "/var/lang/bin/node"
    assert header["argv"][-1] == "/var/runtime/lambda_node/index.js"
    assert "--max-old-space-size=252" in header["argv"]


@pytest.mark.parametrize(
    ("runtime_major", "node_major", "options", "disabled"),
    [
        ("18", "18", "", []),
        ("20", "20", "", ["--no-experimental-require-module"]),
        ("22", "20", "", ["--no-experimental-require-module", "--no-experimental-detect-module"]),
        ("22", "22", "--experimental-detect-module", ["--no-experimental-require-module"]),
        ("22", "18", "", []),  # a node older than the flags would refuse them
        ("24", "24", "", []),
    ],
)
def test_lambdas_disabled_experimental_features_follow_the_runtime_and_node_options(
    runtime_major: str, node_major: str, options: str, disabled: list[str]
) -> None:
    argv = node_argv("node", "/var/runtime", 128, runtime_major, node_major, options)
    assert [arg for arg in argv if arg.startswith("--no-experimental")] == disabled


def test_a_plan_knows_the_major_of_the_node_that_runs_it() -> None:
    assert plan_launch("nodejs18.x", {}, NODES).node_major == "18"
    assert plan_launch("nodejs22.x", {}, NODES).node_major == "20"


def test_node_path_has_lambdas_order_with_the_sdk_and_no_pythonpath() -> None:
    seen = environment_variables(version("nodejs20.x"), RUNTIME_API, STREAM, ENDPOINT, layout=SANDBOXED)
    assert seen["NODE_PATH"] == (
        "/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:/var/sdk/nodejs/node_modules:"
        "/var/runtime:/var/task"
    )
    assert "PYTHONPATH" not in seen
    assert seen["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"


def _fake_node(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def test_binaries_are_found_on_path_and_in_nvms_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = _fake_node(tmp_path / "bin" / "node", "v22.3.0")
    nvm = _fake_node(
        tmp_path / "home" / ".nvm" / "versions" / "node" / "v18.20.1" / "bin" / "node", "ignored"
    )
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    found = find_node_binaries(("18", "20", "22"))
    assert found.host == on_path.resolve()
    assert found.host_major == "22"
    assert found.by_major["22"] == on_path.resolve()
    assert found.by_major["18"] == nvm.resolve()
    assert os.access(found.by_major["18"], os.X_OK)
