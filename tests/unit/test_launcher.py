"""Launch plans (mode and interpreter per runtime) and the variables a function sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from flare.control.model import FunctionVersion
from flare.sandbox.forkserver import RUNTIMES_DIR
from flare.sandbox.isolation import Layout
from flare.sandbox.launcher import (
    SessionCredentials,
    bootstrap_path,
    entry_header,
    environment_variables,
    host_interpreter,
    plan_launch,
    python_sys_path,
)

PY312 = Path("/opt/python3.12/bin/python3.12")
RUNTIME_API = "127.0.0.1:9001"
ENDPOINT = "http://127.0.0.1:9000"
STREAM = "2026/01/01/[$LATEST]0123456789abcdef"

# Lambda documents these as reserved: a function cannot set them.
RESERVED = [
    "_HANDLER",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
]


def version(
    runtime: str = "python3.12",
    environment: dict[str, str] | None = None,
    code_dir: Path = Path("/data/code/abc"),
    opt_dir: Path | None = None,
) -> FunctionVersion:
    return FunctionVersion(
        name="orders",
        version="$LATEST",
        function_arn="arn:aws:lambda:eu-west-1:123456789012:function:orders",
        runtime=runtime,
        handler="app.handler",
        memory_mb=256,
        timeout_s=3,
        ephemeral_mb=512,
        environment=environment or {},
        code_sha256="sha",
        code_dir=code_dir,
        revision_id="rev-1",
        region="eu-west-1",
        account_id="123456789012",
        opt_dir=opt_dir,
    )


CREDENTIALS = SessionCredentials("ASIAEXAMPLE000000000", "secret", "token")


def variables(fn: FunctionVersion) -> dict[str, str]:
    return environment_variables(fn, RUNTIME_API, STREAM, ENDPOINT, credentials=CREDENTIALS)


def test_python_runtime_with_its_interpreter_runs_on_it_without_a_note() -> None:
    plan = plan_launch("python3.12", {"3.12": PY312, "3.11": Path("/other")})
    assert (plan.mode, plan.interpreter, plan.note) == ("python", PY312, None)


@pytest.mark.parametrize("interpreters", [{}, {"3.12": None}, {"3.11": Path("/usr/bin/python3.11")}])
def test_python_runtime_without_its_interpreter_falls_back_to_host_with_a_note(
    interpreters: dict[str, Path | None],
) -> None:
    plan = plan_launch("python3.12", interpreters)
    assert plan.mode == "python"
    assert plan.interpreter == host_interpreter()
    assert plan.note is not None
    assert "python3.12" in plan.note


@pytest.mark.parametrize("runtime", ["provided.al2023", "provided.al2", "provided"])
def test_provided_runtimes_exec_the_bootstrap(runtime: str) -> None:
    assert plan_launch(runtime, {"3.12": PY312}).mode == "exec"


def test_reserved_variables_have_lambdas_values() -> None:
    env = variables(version())
    assert {key: env[key] for key in RESERVED} == {
        "_HANDLER": "app.handler",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": "orders",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/orders",
        "AWS_LAMBDA_LOG_STREAM_NAME": STREAM,
        "AWS_ACCESS_KEY": "ASIAEXAMPLE000000000",
        "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE000000000",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "token",
        "AWS_LAMBDA_RUNTIME_API": RUNTIME_API,
        "LAMBDA_TASK_ROOT": "/data/code/abc",
        "LAMBDA_RUNTIME_DIR": str(RUNTIMES_DIR),
    }


def test_every_variable_is_a_string() -> None:
    assert all(isinstance(value, str) for value in variables(version()).values())


def test_timezone_is_utc_and_endpoint_defaults_to_flare() -> None:
    env = variables(version())
    assert env["TZ"] == ":UTC"
    assert env["AWS_ENDPOINT_URL"] == ENDPOINT


def test_initialization_type_can_be_given() -> None:
    env = environment_variables(
        version(), RUNTIME_API, STREAM, ENDPOINT, initialization_type="provisioned-concurrency"
    )
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"


def test_execution_env_follows_the_runtime() -> None:
    assert variables(version("python3.11"))["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"


def test_user_variables_are_included() -> None:
    env = variables(version(environment={"TABLE": "orders-table", "DEBUG": "1"}))
    assert env["TABLE"] == "orders-table"
    assert env["DEBUG"] == "1"


@pytest.mark.parametrize("reserved", RESERVED)
def test_a_user_variable_cannot_override_a_reserved_one(reserved: str) -> None:
    wanted = variables(version())[reserved]
    env = variables(version(environment={reserved: "user-value"}))
    assert env[reserved] == wanted


@pytest.mark.parametrize(
    ("key", "value"),
    [("AWS_ENDPOINT_URL", "http://localstack:4566"), ("TZ", "Europe/Paris"), ("LANG", "C.UTF-8")],
)
def test_a_user_variable_overrides_flares_defaults(key: str, value: str) -> None:
    assert variables(version(environment={key: value}))[key] == value


SANDBOXED = Layout("/var/task", "/var/runtime", "/var/sdk", None)


def test_sys_path_without_layers_has_no_opt_entries() -> None:
    assert python_sys_path(SANDBOXED, "python3.12") == ["/var/task", "/var/sdk", "/var/runtime"]


@pytest.mark.parametrize("opt", ["/opt", "/data/opt/0123"])
def test_sys_path_with_layers_puts_them_after_the_code_as_lambda_does(opt: str) -> None:
    layout = Layout("/var/task", "/var/runtime", "/var/sdk", opt)
    assert python_sys_path(layout, "python3.13") == [
        "/var/task",
        f"{opt}/python/lib/python3.13/site-packages",
        f"{opt}/python",
        "/var/sdk",
        "/var/runtime",
    ]


def test_python_entry_names_the_layer_site_dirs_only_with_layers() -> None:
    layered = Layout("/var/task", "/var/runtime", "/var/sdk", "/opt")
    assert "site_dirs" not in entry_header(version(), SANDBOXED, python=True)
    assert entry_header(version(), layered, python=True)["site_dirs"] == [
        "/opt/python/lib/python3.12/site-packages",
        "/opt/python",
    ]


def test_layers_bin_and_lib_are_found_where_they_were_merged_without_a_sandbox() -> None:
    host = Layout("/data/code/abc", "/rt", "/sdk", "/data/opt/0123")
    env = environment_variables(version(), RUNTIME_API, STREAM, ENDPOINT, layout=host)
    assert env["PATH"].split(":")[-1] == "/data/opt/0123/bin"
    assert env["LD_LIBRARY_PATH"].split(":")[-1] == "/data/opt/0123/lib"
    assert "/opt/bin" not in env["PATH"].split(":")


@pytest.mark.parametrize("opt", [None, "/opt"])
def test_in_a_sandbox_path_keeps_lambdas_opt_entries(opt: str | None) -> None:
    env = environment_variables(
        version(), RUNTIME_API, STREAM, ENDPOINT, layout=Layout("/var/task", "/r", "/s", opt)
    )
    assert env["PATH"] == "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
    assert env["LD_LIBRARY_PATH"].endswith(":/opt/lib")


def _executable(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)


def test_bootstrap_is_the_codes_else_the_layers(tmp_path: Path) -> None:
    code, opt = tmp_path / "code", tmp_path / "opt"
    code.mkdir()
    _executable(opt / "bootstrap")
    layout = Layout("/var/task", "/var/runtime", "/var/sdk", "/opt")
    fn = version("provided.al2023", code_dir=code, opt_dir=opt)

    assert bootstrap_path(fn, layout) == "/opt/bootstrap"
    assert bootstrap_path(fn) == f"{opt}/bootstrap"
    _executable(code / "bootstrap")
    assert bootstrap_path(fn, layout) == "/var/task/bootstrap"
    assert bootstrap_path(version("provided.al2023", code_dir=tmp_path / "none")) is None
