"""Run AWS's durable execution conformance requirements against Flare: the Python SDK's
conformance handlers, invoked on Flare, their execution histories matched against the
requirements' expected histories by AWS's own conformance runner.

Two checkouts: the runner and its requirements (``aws/aws-durable-execution-conformance-tests``,
``packages/aws-durable-execution-conformance-tests``: ``src/`` and ``test-requirements/<suite>/``)
and the Python handlers with their SAM templates (``aws/aws-durable-execution-sdk-python``,
``packages/aws-durable-execution-sdk-python-conformance-tests``: ``handlers/<suite>/`` and
``template_<suite>.yaml``, whose functions name their requirement ids in
``TestingMetadata.TestDescription``). The runner deploys with SAM and CloudFormation; this tool
deploys each template function on a fresh Flare itself (python3.13, its handler, DurableConfig,
logging config and Timeout; the handlers as ``<suite>/`` packages, the SDK from Flare's runtime)
and hands the runner's ``validate_description`` an invoker and a Lambda client aimed at Flare::

    python -m tests.durable_conformance RUNNER_DIR HANDLERS_DIR [--suite S]... [--output DIR] [--sdk DIR]

``--sdk`` bundles the SDK package the handlers were written for (the repository's
``packages/aws-durable-execution-sdk-python/src/aws_durable_execution_sdk_python``), as the
repository's build does; without it they run on the SDK Flare's runtime provides.

Not part of ``make test``: it needs both checkouts and runs for minutes.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from tests.conftest import ROLE, FlareServer, create_function, launch, zip_files
from tests.durable_fixtures import CHECKPOINTS
from tests.roles import attach_policy

WORKERS = 4


class NoStack:
    """What the runner asks CloudFormation (a stack's function by logical id), answered for
    Flare, where each function is named by its logical id."""

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
        return {"StackResourceDetail": {"PhysicalResourceId": LogicalResourceId}}


class _TemplateLoader(yaml.SafeLoader):
    """A SAM template's YAML, a scalar intrinsic function (``!Sub "..."``, ``!Ref X``) read as
    ``{"Sub": "..."}``, ``{"Ref": "X"}``; any other as None."""


_TemplateLoader.add_multi_constructor(
    "!",
    lambda loader, suffix, node: (
        {suffix: loader.construct_scalar(node)} if isinstance(node, yaml.ScalarNode) else None
    ),
)
_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9]+)(\.Arn)?\}")


def resolved(value: object, functions: dict[str, str]) -> str | None:
    """An environment value with its ``Ref`` / ``Sub`` of the template's functions resolved
    (``functions``: logical id -> ARN); None when it names anything else."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((kind, argument),) = value.items()
    if kind == "Ref" and argument in functions:
        return str(argument)
    if kind == "Sub" and isinstance(argument, str):
        names = [match[1] for match in _SUBSTITUTION.finditer(argument)]
        if all(name in functions for name in names):
            return _SUBSTITUTION.sub(lambda match: functions[match[1]] if match[2] else match[1], argument)
    return None


def functions_of(template: Path) -> dict[str, dict[str, Any]]:
    """The template's ``AWS::Serverless::Function`` resources by logical id, with the
    ``Globals.Function`` properties under their own."""
    document = yaml.load(template.read_text(), Loader=_TemplateLoader)
    defaults = (document.get("Globals") or {}).get("Function") or {}
    return {
        name: {**resource, "Properties": {**defaults, **(resource.get("Properties") or {})}}
        for name, resource in (document.get("Resources") or {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


def code_of(handlers: Path, sdk: Path | None) -> bytes:
    """``handlers/<suite>/...`` as ``<suite>/...`` at the zip's root, with the SDK package
    ``sdk`` (a directory ``aws_durable_execution_sdk_python``) beside them if given: the
    repository's ``build_examples.py`` layout, whose SDK comes first on ``sys.path``."""
    files = {str(path.relative_to(handlers)): path.read_bytes() for path in sorted(handlers.rglob("*.py"))}
    if sdk is not None:
        files |= {str(path.relative_to(sdk.parent)): path.read_bytes() for path in sorted(sdk.rglob("*.py"))}
    return zip_files(dict(files))


def deploy(
    server: FlareServer, handlers_dir: Path, suites: list[str], sdk: Path | None = None
) -> list[tuple[str, str, str]]:
    """Deploy the functions of ``suites``' templates: (suite, function, requirement id) each. A
    function whose environment names a resource that is not one of the template's functions (a
    DynamoDB table...) is not deployed."""
    lam = server.client()
    attach_policy(server.url, ROLE, CHECKPOINTS, name="durable")
    code = code_of(handlers_dir / "handlers", sdk)
    account = ROLE.split(":")[4]  # the functions' account is their role's
    cases = []
    for suite in suites:
        functions = functions_of(handlers_dir / f"template_{suite}.yaml")
        arns = {name: f"arn:aws:lambda:us-east-1:{account}:function:{name}" for name in functions}
        for name, resource in functions.items():
            properties = resource["Properties"]
            raw = (properties.get("Environment") or {}).get("Variables") or {}
            variables = {key: resolved(value, arns) for key, value in raw.items()}
            if None in variables.values():
                print(f"not deployed: {name} (its environment names other resources: {raw})")
                continue
            config: dict[str, Any] = {"Timeout": properties.get("Timeout", 60)}
            for member in ("DurableConfig", "LoggingConfig"):
                if properties.get(member):
                    config[member] = properties[member]
            if variables:
                config["Environment"] = {"Variables": variables}
            create_function(lam, name, code, handler=properties["Handler"], runtime="python3.13", **config)
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
            ids = (resource.get("TestingMetadata") or {}).get("TestDescription") or []
            cases += [(suite, name, str(requirement)) for requirement in ids]
    return cases


def validate(
    server: FlareServer, runner_dir: Path, cases: list[tuple[str, str, str]], output: Path
) -> list[tuple[str, str, bool, list[str]]]:
    """Each case's (requirement, function, passed, errors), by the runner's own validation."""
    sys.path.insert(0, str(runner_dir / "src"))
    from aws_durable_execution_conformance_tests.clients import AwsClients
    from aws_durable_execution_conformance_tests.sam import Invoker
    from aws_durable_execution_conformance_tests.validate import validate_description

    lam = server.client()

    class FlareInvoker(Invoker):  # type: ignore[misc]  # the runner is a checkout mypy cannot see
        def _resolve_function(self, logical_id: str) -> str:
            return logical_id  # Flare's functions are named by their logical ids

    stack = NoStack()
    clients = AwsClients(
        MappingProxyType({"lambda": lam, "logs": server.client("logs"), "cloudformation": stack})
    )
    invoker = FlareInvoker("flare", region="us-east-1", lambda_client=lam, cfn_client=stack)
    requirements = runner_dir / "test-requirements"

    def one(case: tuple[str, str, str]) -> tuple[str, str, bool, list[str]]:
        suite, function, requirement = case
        with tempfile.TemporaryDirectory() as scratch:
            result = validate_description(
                function, requirement, str(requirements / suite / f"{requirement}.yaml"),
                invoker, scratch, "us-east-1", clients, output_dir=str(output),
            )  # fmt: skip
        return requirement, function, bool(result.passed), [str(error) for error in result.errors]

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(one, cases))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runner", type=Path, help="packages/aws-durable-execution-conformance-tests")
    parser.add_argument(
        "handlers", type=Path, help="packages/aws-durable-execution-sdk-python-conformance-tests"
    )
    parser.add_argument("--suite", action="append", help="only this suite (repeatable)")
    parser.add_argument("--output", type=Path, help="where to keep the execution histories")
    parser.add_argument(
        "--sdk", type=Path, help="an aws_durable_execution_sdk_python package to bundle (else the runtime's)"
    )
    args = parser.parse_args(argv)
    runner, handlers = args.runner.resolve(), args.handlers.resolve()
    suites = args.suite or sorted(
        path.stem.removeprefix("template_") for path in handlers.glob("template_*.yaml")
    )
    with tempfile.TemporaryDirectory(prefix="flare-durable-conformance-") as scratch:
        output = args.output or Path(scratch) / "histories"
        output.mkdir(parents=True, exist_ok=True)
        server = launch(Path(scratch))
        try:
            results = validate(server, runner, deploy(server, handlers, suites, args.sdk), output)
        finally:
            server.stop()
    for requirement, function, passed, errors in sorted(results, key=lambda found: found[0]):
        print(f"{'passed' if passed else 'failed':7} {requirement:8} {function}")
        for error in errors[:3]:
            print(f"          {error[:300]}")
    failed = sum(1 for _, _, passed, _ in results if not passed)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
