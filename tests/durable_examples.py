"""Run the example workflows of AWS's durable execution SDK for Python against Flare, as their
own cloud mode runs them against AWS.

The examples live in the SDK's repository (``packages/aws-durable-execution-sdk-python-examples``
of ``aws/aws-durable-execution-sdk-python``; the testing package's own repository points there):
``src/`` holds the handlers, ``examples-catalog.json`` their functions, ``test/`` their tests,
whose ``durable_runner`` fixture drives a deployed function with the testing package's
``DurableFunctionCloudTestRunner`` under ``--runner-mode=cloud``. This tool starts a Flare,
deploys every catalog example marked ``integration`` as a python3.13 durable function (the
``src`` tree flattened into one zip, as the repository's ``scripts/build_examples.py`` lays it
out; Flare's runtime provides the SDK), then runs the tests in cloud mode with
``LAMBDA_ENDPOINT`` at Flare and ``PYTEST_FUNCTION_NAME_MAP`` naming the functions, and prints
each test's outcome::

    python -m tests.durable_examples EXAMPLES_DIR [-k EXPRESSION] [--junit FILE]

Not part of ``make test``: it needs a checkout of the examples, and runs for minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.conftest import ROLE, FlareServer, create_function, launch, zip_files
from tests.durable_fixtures import CHECKPOINTS
from tests.roles import attach_policy

PREFIX = (
    "DurablePy-"  # the repository's "DurablePythonExample-" makes names Flare refuses (see docs/durable.md)
)


def function_name(handler: str) -> str:
    """The function of a catalog handler (``wait_for_callback.handler`` ->
    ``DurablePy-WaitForCallback``), as the repository's SAM template names it but for the prefix."""
    module = handler.removesuffix(".handler")
    return PREFIX + "".join(part.capitalize() for part in re.split(r"[_\W]+", module) if part)


def flattened(src: Path) -> dict[str, str | bytes]:
    """Every file under ``src`` by its base name (the handlers import each other flat)."""
    return {path.name: path.read_bytes() for path in sorted(src.rglob("*")) if path.is_file()}


def deploy(server: FlareServer, examples: Path) -> dict[str, str]:
    """Deploy the catalog's integration examples on ``server``: example name -> qualified
    function name (``PYTEST_FUNCTION_NAME_MAP``)."""
    lam = server.client()
    attach_policy(server.url, ROLE, CHECKPOINTS, name="durable")
    code = zip_files(flattened(examples / "src"))
    catalog = json.loads((examples / "examples-catalog.json").read_text())["examples"]
    names: dict[str, str] = {}
    deployed: set[str] = set()
    for example in catalog:
        if not example.get("integration"):
            continue
        name = function_name(example["handler"])
        if name not in deployed:
            deployed.add(name)
            config: dict[str, Any] = {"DurableConfig": example["durableConfig"], "Timeout": 60}
            if example.get("environment"):
                config["Environment"] = {"Variables": example["environment"]}
            if example.get("loggingConfig"):
                config["LoggingConfig"] = example["loggingConfig"]
            create_function(lam, name, code, handler=example["handler"], runtime="python3.13", **config)
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
        names[example["name"]] = f"{name}:$LATEST"
    return names


def run_tests(
    server: FlareServer, examples: Path, names: dict[str, str], select: str | None, junit: Path
) -> int:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LAMBDA_ENDPOINT": server.url,
        "PYTEST_FUNCTION_NAME_MAP": json.dumps(names),
    }
    command = [sys.executable, "-m", "pytest", "test", "--runner-mode=cloud", "-q", "-p", "no:cacheprovider"]
    command += [
        "-o",
        "addopts=",
        "-W",
        "ignore::pytest.PytestUnknownMarkWarning",
        "--continue-on-collection-errors",
    ]
    command += [f"--junitxml={junit}", *(["-k", select] if select else [])]
    return subprocess.run(command, cwd=examples, env=env, check=False).returncode


def outcomes(junit: Path) -> list[tuple[str, str, str]]:
    """(test, passed | failed | skipped, first line of why) of every test in ``junit``."""
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, why = "passed", ""
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcome = "skipped" if kind == "skipped" else "failed"
                why = (element.get("message") or element.text or "").strip().splitlines()[0][:160]
        found.append((test, outcome, why))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("examples", type=Path, help="packages/aws-durable-execution-sdk-python-examples")
    parser.add_argument("-k", dest="select", help="pytest -k expression")
    parser.add_argument("--junit", type=Path, help="where to keep pytest's JUnit XML")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="flare-durable-examples-") as scratch:
        server = launch(Path(scratch))
        try:
            names = deploy(server, args.examples.resolve())
            junit = args.junit or Path(scratch) / "junit.xml"
            run_tests(server, args.examples.resolve(), names, args.select, junit)
        finally:
            server.stop()
        results = outcomes(junit)
    for test, outcome, why in results:
        print(f"{outcome:8} {test}" + (f"  -- {why}" if why else ""))
    counts = {
        kind: sum(1 for _, outcome, _ in results if outcome == kind)
        for kind in ("passed", "failed", "skipped")
    }
    print(", ".join(f"{count} {kind}" for kind, count in counts.items()))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
