"""Keep-warm schedules against a real server: ``flare schedule add|ls|rm`` and the rules firing.

Rules here use ``rate(1 second)`` (a Flare extension: EventBridge's minimum is a minute) so a
test sees them fire within seconds.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import FLARE, FlareServer, create_function, launch, python_function
from tests.signing import signed_urlopen

SOURCE = """\
import json
def handler(event, context):
    print("EVENT " + json.dumps(event, sort_keys=True))
    return "ok"
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def cli(flare: FlareServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FLARE), "schedule", *args, "--endpoint-url", flare.url],
        capture_output=True,
        text=True,
        timeout=30,
    )


def get(flare: FlareServer, path: str) -> tuple[int, Any]:
    try:
        with signed_urlopen(f"{flare.url}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def events_logged(flare: FlareServer, name: str) -> list[dict[str, Any]]:
    _, body = get(flare, f"/flare/v1/functions/{name}/logs?offset=0")
    lines = [event["message"] for event in body["events"]]
    return [json.loads(line.split("EVENT ", 1)[1]) for line in lines if "EVENT " in line]


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_add_runs_the_rule_with_its_payload_and_ls_rm_manage_it(flare: FlareServer, lam: Any) -> None:
    name = unique("warm")
    create_function(lam, name, python_function(SOURCE))
    added = cli(flare, "add", name, "--rate", "1 second", "--payload", '{"warm": true}')
    assert added.returncode == 0, added.stderr
    schedule_id = added.stdout.strip()
    assert wait_for(lambda: any(event == {"warm": True} for event in events_logged(flare, name)))
    status, shown = get(flare, f"/flare/v1/schedules/{schedule_id}")
    assert status == 200
    assert (shown["FunctionName"], shown["ScheduleExpression"]) == (name, "rate(1 second)")
    assert (shown["LastResult"], shown["Runs"] >= 1) == ("Succeeded", True)
    listed = cli(flare, "ls")
    assert listed.returncode == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith(schedule_id))
    assert name in row and "rate(1 second)" in row and "Succeeded" in row
    removed = cli(flare, "rm", schedule_id)
    assert removed.returncode == 0, removed.stderr
    assert schedule_id not in cli(flare, "ls").stdout
    status, error = get(flare, f"/flare/v1/schedules/{schedule_id}")
    assert (status, error["Type"]) == (404, "User")
    again = cli(flare, "rm", schedule_id)
    assert (again.returncode, again.stderr.strip()) == (
        1,
        f"error: ResourceNotFoundException: Schedule not found: {schedule_id}",
    )


def test_without_payload_the_function_gets_eventbridge_scheduled_event(flare: FlareServer, lam: Any) -> None:
    name = unique("event")
    create_function(lam, name, python_function(SOURCE))
    schedule_id = cli(flare, "add", name, "--rate", "rate(1 second)").stdout.strip()
    try:
        events = wait_for(lambda: events_logged(flare, name))
        assert events[0]["detail-type"] == "Scheduled Event"
        assert events[0]["source"] == "aws.events"
        assert events[0]["resources"][0].endswith(f":rule/flare-schedule-{schedule_id}")
    finally:
        cli(flare, "rm", schedule_id)


def test_a_cron_rule_is_due_on_a_minute_boundary(flare: FlareServer, lam: Any) -> None:
    name = unique("cron")
    create_function(lam, name, python_function(SOURCE))
    added = cli(flare, "add", name, "--cron", "0/5 * * * ? *")
    assert added.returncode == 0, added.stderr
    _, shown = get(flare, f"/flare/v1/schedules/{added.stdout.strip()}")
    assert shown["ScheduleExpression"] == "cron(0/5 * * * ? *)"
    assert shown["NextRun"].endswith(":00Z") and int(shown["NextRun"][14:16]) % 5 == 0


def test_invalid_rules_fail_with_one_clear_line(flare: FlareServer, lam: Any) -> None:
    name = unique("bad")
    create_function(lam, name, python_function(SOURCE))
    cases = [
        (
            ("add", name, "--rate", "1 minutes"),
            "InvalidParameterValueException: Parameter ScheduleExpression",
        ),
        (("add", name, "--cron", "0 0 L * ? *"), "does not support L, W or #"),
        (("add", unique("missing"), "--rate", "5 minutes"), "ResourceNotFoundException"),
    ]
    for args, expected in cases:
        result = cli(flare, *args)
        assert result.returncode == 1
        assert result.stderr.startswith("error: ") and expected in result.stderr
        assert "Traceback" not in result.stderr
    usage = cli(flare, "add", name)
    assert usage.returncode == 2 and "exactly one of --rate and --cron" in usage.stderr


def test_schedules_survive_a_restart_and_go_with_their_function(tmp_path: Path) -> None:
    server = launch(tmp_path)
    try:
        lam = server.client()
        name = unique("kept")
        create_function(lam, name, python_function(SOURCE))
        schedule_id = cli(server, "add", name, "--rate", "5 minutes").stdout.strip()
        server.restart()
        assert schedule_id in cli(server, "ls").stdout
        lam = server.client()
        lam.delete_function(FunctionName=name)
        assert schedule_id not in cli(server, "ls").stdout
    finally:
        server.stop()
