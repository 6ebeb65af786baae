"""SnapStart through boto3 and the real ``snapshot_restore_py``: snapshot at publish, restore
per cold start, the hooks, the gotchas, and the errors."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from flare.sandbox.cgroups import Cgroups
from tests.conftest import FlareServer, create_function, python_function, zip_files
from tests.durable_fixtures import advance
from tests.functional.conftest import ric_zip
from tests.signing import signed_urlopen

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or Cgroups.detect() is None,
    reason="SnapStart restores need the sandbox (root and cgroups)",
)

HOOKED = """
import os, random, time, uuid
from snapshot_restore_py import register_after_restore, register_before_snapshot
INIT_ID = str(uuid.uuid4())
RESTORES = []
time.sleep(float(os.environ.get("INIT_SLEEP", "0")))

@register_before_snapshot
def first_before():
    print("before-snapshot: registered first")

@register_before_snapshot
def second_before():
    print("before-snapshot: registered second")

RESTORE_ID = None

@register_after_restore
def first_after():
    global RESTORE_ID
    RESTORE_ID = str(uuid.uuid4())
    RESTORES.append("first")

@register_after_restore
def second_after():
    RESTORES.append("second")

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {
        "init_id": INIT_ID,
        "random": random.random(),
        "restores": RESTORES,
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "restore_id": RESTORE_ID,
        "stream": context.log_stream_name,
        "uid": os.getuid(),
    }
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def snap_function(lam: Any, name: str, source: str, **config: Any) -> str:
    """Create a SnapStart function, publish it, wait until the snapshot is ready; its version."""
    create_function(
        lam,
        name,
        python_function(source),
        runtime="python3.12",
        SnapStart={"ApplyOn": "PublishedVersions"},
        **config,
    )
    version: str = lam.publish_version(FunctionName=name)["Version"]
    wait_state(lam, name, version)
    return version


def wait_state(lam: Any, name: str, version: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        config: dict[str, Any] = lam.get_function_configuration(FunctionName=name, Qualifier=version)
        if config["State"] != "Pending":
            return config
        time.sleep(0.05)
    raise AssertionError("the snapshot was never made")


def invoke(lam: Any, name: str, payload: Any = None) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), LogType="Tail")
    return response, json.loads(response["Payload"].read())


def tail(response: dict[str, Any]) -> str:
    return base64.b64decode(response["LogResult"]).decode()


def test_publish_makes_a_snapshot_and_cold_starts_restore_it(lam: Any) -> None:
    name = unique("snap")
    create_function(
        lam,
        name,
        python_function(HOOKED),
        runtime="python3.12",
        SnapStart={"ApplyOn": "PublishedVersions"},
        Environment={"Variables": {"INIT_SLEEP": "1.5"}},
    )
    assert lam.get_function_configuration(FunctionName=name)["SnapStart"]["OptimizationStatus"] == "Off"
    published = lam.publish_version(FunctionName=name)
    version = published["Version"]
    assert (published["State"], published["StateReasonCode"]) == ("Pending", "Creating")
    assert published["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    with pytest.raises(ClientError) as early:
        lam.invoke(FunctionName=f"{name}:{version}", Payload=b"{}")
    assert early.value.response["Error"]["Code"] == "SnapStartNotReadyException"
    assert early.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert wait_state(lam, name, version)["State"] == "Active"

    response, body = invoke(lam, f"{name}:{version}")
    log = tail(response)
    assert "Restore Duration: " in log and "Billed Restore Duration: " in log
    assert "Init Duration" not in log
    assert body["init_type"] == "snap-start"
    assert body["restores"] == ["first", "second"], "after-restore hooks run in registration order"
    assert body["uid"] >= 20_000
    messages = [event["message"] for event in logs_of(lam, name)]
    assert messages.index("before-snapshot: registered second") < messages.index(
        "before-snapshot: registered first"
    )
    assert any(line.startswith("RESTORE_START") for line in messages)
    assert any(line.startswith("RESTORE_REPORT Restore Duration: ") for line in messages)
    # $LATEST never uses the snapshot: it cold-starts with INIT.
    latest, _ = invoke(lam, name)
    assert "Init Duration" in tail(latest)


def logs_of(lam: Any, name: str) -> list[dict[str, Any]]:

    url = f"{lam.meta.endpoint_url}/flare/v1/functions/{name}/logs"
    with signed_urlopen(url) as reply:
        events: list[dict[str, Any]] = json.load(reply)["events"]
    return events


def test_restored_environments_share_init_state_but_not_randomness(lam: Any) -> None:
    name = unique("unique")
    version = snap_function(lam, name, HOOKED)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: invoke(lam, f"{name}:{version}", {"sleep": 0.5})[1], range(2)))
    assert results[0]["restore_id"] != results[1]["restore_id"], "two restored environments"
    assert results[0]["stream"] is None, "SnapStart functions get no AWS_LAMBDA_LOG_STREAM_NAME"
    assert results[0]["init_id"] == results[1]["init_id"], (
        "a UUID made in INIT is in every restore, as on Lambda"
    )
    assert results[0]["random"] != results[1]["random"], "Flare reseeds random in every restore"


def test_a_connection_from_init_is_reopened_by_an_after_restore_hook(lam: Any) -> None:
    received: list[str] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        listener.settimeout(20)
        for _ in range(3):
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                received.append(connection.recv(100).decode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    source = f"""
import socket
from snapshot_restore_py import register_after_restore
CONNECTION = socket.create_connection(("127.0.0.1", {port}))
CONNECTION.sendall(b"opened in init")

@register_after_restore
def reconnect():
    global CONNECTION
    CONNECTION = socket.create_connection(("127.0.0.1", {port}))
    CONNECTION.sendall(b"reopened after restore")

def handler(event, context):
    return "ok"
"""
    name = unique("conn")
    version = snap_function(lam, name, source)
    assert invoke(lam, f"{name}:{version}")[1] == "ok"
    thread.join(5)
    listener.close()
    assert received == ["opened in init", "reopened after restore"]


def test_failing_before_snapshot_hook_fails_the_version(lam: Any) -> None:
    source = (
        HOOKED + "\n@register_before_snapshot\ndef broken():\n    raise RuntimeError('no snapshot for you')\n"
    )
    name = unique("badbefore")
    create_function(
        lam, name, python_function(source), runtime="python3.12", SnapStart={"ApplyOn": "PublishedVersions"}
    )
    version = lam.publish_version(FunctionName=name)["Version"]
    config = wait_state(lam, name, version)
    assert config["State"] == "Failed"
    assert "Runtime.BeforeSnapshotError" in config["StateReason"]
    with pytest.raises(ClientError) as failed:
        lam.invoke(FunctionName=f"{name}:{version}", Payload=b"{}")
    assert failed.value.response["Error"]["Code"] == "ResourceConflictException"


def test_failing_after_restore_hook_fails_the_invoke_with_snapstart_exception(lam: Any) -> None:
    source = HOOKED + "\n@register_after_restore\ndef broken():\n    raise RuntimeError('cannot restore')\n"
    name = unique("badafter")
    version = snap_function(lam, name, source)
    with pytest.raises(ClientError) as failed:
        lam.invoke(FunctionName=f"{name}:{version}", Payload=b"{}")
    assert failed.value.response["Error"]["Code"] == "SnapStartException"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_restore_over_ten_seconds_is_snapstart_timeout(timed: FlareServer) -> None:
    """The 10 s restore limit runs on the engine's clock: the test moves it ahead while the
    after-restore hook hangs, rather than wait for it."""
    lam = timed.client()
    source = HOOKED + "\n@register_after_restore\ndef slow():\n    time.sleep(3600)\n"
    name = unique("slowrestore")
    version = snap_function(lam, name, source, Timeout=30)
    with ThreadPoolExecutor(1) as pool:
        began = time.monotonic()  # the test clock runs on from real time, plus what is moved
        answer = pool.submit(lam.invoke, FunctionName=f"{name}:{version}", Payload=b"{}")
        moved = 0.0
        while not answer.done() and moved < 60:
            time.sleep(0.05)
            advance(timed, 0.5)
            moved += 0.5
        with pytest.raises(ClientError) as failed:
            answer.result(timeout=10)
        elapsed = time.monotonic() - began
    assert failed.value.response["Error"]["Code"] == "SnapStartTimeoutException"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 408
    assert moved + elapsed >= 10, "refused before the limit passed on the engine's clock"


def template_cgroups(engine_pid: int) -> set[Path]:
    """The template cgroups of the engine ``engine_pid`` (``e<pid>-<start time>``; other engines
    on the host, other test runs', are none of this test's business)."""
    return {
        *Path("/sys/fs/cgroup/pids/flare").glob(f"e{engine_pid}-*/snap-*"),
        *Path("/sys/fs/cgroup/flare").glob(f"e{engine_pid}-*/snap-*"),
    }


def test_a_dead_template_is_recreated_and_deleting_the_version_removes_it(
    flare: FlareServer, lam: Any
) -> None:
    name = unique("revive")
    version = snap_function(lam, name, HOOKED)
    engine = flare.process.pid
    killed = template_cgroups(engine)
    assert killed, "templates have cgroups of their own"
    for path in killed:
        for pid in (path / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    time.sleep(0.5)
    response, body = invoke(lam, f"{name}:{version}")
    assert "FunctionError" not in response, body
    assert "Restore Duration" in tail(response)
    remade = template_cgroups(engine) - killed
    assert len(remade) == 1, "the version's template was made again"
    lam.delete_function(FunctionName=name, Qualifier=version)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and remade & template_cgroups(engine):
        time.sleep(0.1)
    assert not remade & template_cgroups(engine)


def test_snapstart_needs_python_312_or_later(lam: Any) -> None:
    with pytest.raises(ClientError) as refused:
        create_function(
            lam,
            unique("old"),
            python_function(HOOKED),
            runtime="python3.11",
            SnapStart={"ApplyOn": "PublishedVersions"},
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"


# ---- awslambdaric: the snapshot is taken at the client's GET /runtime/restore/next -----------

RIC_HOOKED = """
import os, random, time, uuid
from snapshot_restore_py import register_after_restore, register_before_snapshot
INIT_ID = str(uuid.uuid4())
INIT_TYPE = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")
ORDER = []

@register_before_snapshot
def first_before():
    ORDER.append("before:first")
    if os.environ.get("FAIL_BEFORE"):
        raise RuntimeError("before-snapshot hook refused")

@register_before_snapshot
def second_before():
    ORDER.append("before:second")

@register_after_restore
def first_after():
    ORDER.append("after:first")
    if os.environ.get("FAIL_AFTER"):
        raise RuntimeError("after-restore hook refused")

@register_after_restore
def second_after():
    ORDER.append("after:second")

def handler(event, context):
    time.sleep(event.get("hold", 0))
    return {
        "init_id": INIT_ID,
        "init_type": INIT_TYPE,
        "order": ORDER,
        "random": random.random(),
        "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"],
        "uid": os.getuid(),
        "hook_variables": [v for v in ("_FLARE_SNAPSTART_FD", "PYTHONUSERBASE") if v in os.environ],
    }
"""


def ric_snap_function(lam: Any, code: bytes, **config: Any) -> tuple[str, str, dict[str, Any]]:
    """A provided.al2023 SnapStart function (awslambdaric), published: (name, version, config)."""
    name = unique("ric-snap")
    create_function(
        lam, name, code, runtime="provided.al2023", SnapStart={"ApplyOn": "PublishedVersions"}, **config
    )
    version: str = lam.publish_version(FunctionName=name)["Version"]
    return name, version, wait_state(lam, name, version)


def test_awslambdaric_is_snapshotted_at_restore_next_and_restored(
    lam: Any, ric_tree: Path, ric_interpreter: Path
) -> None:
    name, version, config = ric_snap_function(lam, ric_zip(ric_tree, ric_interpreter, RIC_HOOKED))
    assert config["State"] == "Active", config.get("StateReason")
    assert config["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}

    def cold(_: int) -> tuple[dict[str, Any], Any]:
        # each holds its environment a while, so that the other cannot be given it once idle
        return invoke(lam, f"{name}:{version}", {"hold": 1.0})

    with ThreadPoolExecutor(2) as pool:  # two at once: two restored copies of one snapshot
        (first, one), (second, two) = pool.map(cold, range(2))
    for response, body in ((first, one), (second, two)):
        assert "FunctionError" not in response, body
        log = tail(response)
        assert "Restore Duration: " in log and "Init Duration" not in log
        assert body["init_type"] == "snap-start"
        # awslambdaric ran the before-snapshot hooks last-registered first, once, in the
        # template; each copy ran the after-restore hooks in registration order.
        assert body["order"] == ["before:second", "before:first", "after:first", "after:second"]
        assert body["uid"] >= 20_000
        assert body["hook_variables"] == []
    assert one["init_id"] == two["init_id"], "INIT state is the snapshot's, shared by every copy"
    assert one["random"] != two["random"], "random is reseeded in each restored copy"
    # Both copies keep the template's AWS_LAMBDA_RUNTIME_API (as every Lambda environment sees
    # the same address); the engine tells them apart by their own uids.
    assert one["runtime_api"] == two["runtime_api"]
    assert one["uid"] != two["uid"]
    messages = [event["message"] for event in logs_of(lam, name)]
    assert any(line.startswith("RESTORE_REPORT Restore Duration: ") for line in messages)

    warm, again = invoke(lam, f"{name}:{version}")
    assert "Restore Duration" not in tail(warm)
    assert again["init_id"] == one["init_id"]


def test_awslambdaric_hook_failures_fail_the_publish_or_the_invoke(
    lam: Any, ric_tree: Path, ric_interpreter: Path
) -> None:
    code = ric_zip(ric_tree, ric_interpreter, RIC_HOOKED)
    _, _, failed = ric_snap_function(lam, code, Environment={"Variables": {"FAIL_BEFORE": "1"}})
    assert failed["State"] == "Failed"
    assert failed["StateReasonCode"] == "FunctionError"
    assert failed["StateReason"].startswith("Runtime.BeforeSnapshotError")

    name, version, config = ric_snap_function(lam, code, Environment={"Variables": {"FAIL_AFTER": "1"}})
    assert config["State"] == "Active"
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName=f"{name}:{version}", Payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "SnapStartException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "after-restore hook refused" in refused.value.response["Error"]["Message"]


def test_a_runtime_client_that_cannot_be_snapshotted_fails_the_publish_saying_why(lam: Any) -> None:
    bootstrap = (
        "#!/bin/sh\n"
        'API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"\n'
        'while true; do curl -sS "$API/invocation/next" >/dev/null || exit 1; done\n'
    )
    code = zip_files({"bootstrap": bootstrap}, {"bootstrap": 0o755})
    _, _, config = ric_snap_function(lam, code)
    assert config["State"] == "Failed"
    assert config["StateReason"].startswith("Runtime.SnapStartNotSupported")
    assert "restore/next" in config["StateReason"]


LISTENING_EXTENSION = """#!/bin/bash
curl -sS -X POST -H 'Lambda-Extension-Name: listener' -d '{"events": ["INVOKE"]}' \\
  "http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension/register" > /dev/null
sleep 600
"""


def test_a_restored_environment_says_it_runs_without_its_extensions(flare: FlareServer, lam: Any) -> None:
    layer = lam.publish_layer_version(
        LayerName=unique("ext"),
        Content={
            "ZipFile": zip_files({"extensions/listener": LISTENING_EXTENSION}, {"extensions/listener": 0o755})
        },
    )
    name = unique("snap-ext")
    version = snap_function(lam, name, HOOKED, Layers=[layer["LayerVersionArn"]])
    assert wait_state(lam, name, version)["State"] == "Active"
    response, _ = invoke(lam, f"{name}:{version}")
    assert "FunctionError" not in response
    logs = flare.client("logs")
    wanted = "flare: SnapStart environments do not run extensions yet; this environment runs without listener"
    deadline = time.monotonic() + 10
    while True:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        if any(wanted in event["message"] for event in events):
            break
        assert time.monotonic() < deadline, [event["message"] for event in events]
        time.sleep(0.05)
