"""The live feed through the wire (``GET /flare/v1/live``): environments' phases as they
change, finished invocations with how they started, throttles, one account's view only."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any

import pytest

from flare.sandbox.cgroups import Cgroups
from tests.conftest import FlareServer, create_function, python_function
from tests.functional.live_stream import LiveStream
from tests.functional.test_snapstart import snap_function

HELLO = python_function("def handler(event, context):\n    return 'hi'\n")


def phase_of(env_id: str, phase: str) -> Any:
    return lambda event: (
        event["kind"] == "environment" and event["environment_id"] == env_id and event["phase"] == phase
    )


def test_a_stream_starts_with_a_snapshot_then_tells_an_environments_life(
    flare: FlareServer, lam: Any
) -> None:
    create_function(lam, "watched", HELLO, MemorySize=256)
    stream = LiveStream.signed(flare.url)
    try:
        first = stream.next()
        assert first["kind"] == "snapshot"
        assert all(env["function"] != "watched" for env in first["environments"])
        lam.invoke(FunctionName="watched")
        busy = stream.until(
            lambda e: e["kind"] == "environment" and e["function"] == "watched" and e["phase"] == "busy"
        )
        env_id = busy["environment_id"]
        assert busy["memory_mb"] == 256 and busy["version"] == "$LATEST"
        phases = [e["phase"] for e in stream.seen if e.get("environment_id") == env_id]
        assert phases[0] == "initializing"  # the cold start's INIT came first
        cold = stream.until(lambda e: e["kind"] == "invocation" and e["function"] == "watched")
        assert cold["start"] == "cold" and cold["init_ms"] > 0 and cold["error_type"] is None
        stream.until(phase_of(env_id, "frozen"))
        lam.invoke(FunctionName="watched")
        warm = stream.until(lambda e: e["kind"] == "invocation" and e["function"] == "watched")
        assert warm["start"] == "warm" and warm["init_ms"] is None
        assert cold["cost_usd"] > warm["cost_usd"] > 0  # an on-demand INIT is billed (since Aug 2025)
        lam.update_function_configuration(FunctionName="watched", Environment={"Variables": {"BUMP": "1"}})
        stream.until(phase_of(env_id, "shutting-down"))
        stream.until(phase_of(env_id, "gone"))
    finally:
        stream.close()


def test_a_new_stream_sees_the_live_environments_in_its_snapshot(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "already", HELLO)
    lam.invoke(FunctionName="already")
    stream = LiveStream.signed(flare.url)
    try:
        snapshot = stream.next()
        mine = [env for env in snapshot["environments"] if env["function"] == "already"]
        assert len(mine) == 1 and mine[0]["phase"] in ("idle", "frozen")
    finally:
        stream.close()


def test_errors_and_throttles_are_told(flare: FlareServer, lam: Any) -> None:
    create_function(
        lam, "faulty", python_function("def handler(event, context):\n    raise ValueError('no')\n")
    )
    stream = LiveStream.signed(flare.url)
    try:
        stream.next()
        lam.invoke(FunctionName="faulty")
        failed = stream.until(lambda e: e["kind"] == "invocation" and e["function"] == "faulty")
        assert failed["error_type"] == "ValueError"
        lam.put_function_concurrency(FunctionName="faulty", ReservedConcurrentExecutions=0)
        with pytest.raises(lam.exceptions.TooManyRequestsException):
            lam.invoke(FunctionName="faulty")
        throttle = stream.until(lambda e: e["kind"] == "throttle")
        assert throttle["function"] == "faulty"
    finally:
        stream.close()


def test_another_accounts_stream_does_not_see_these_functions(flare: FlareServer, lam: Any) -> None:
    create_function(lam, "private", HELLO)
    other = LiveStream.signed(flare.url, key="111111111111")
    mine = LiveStream.signed(flare.url)
    try:
        other.next(), mine.next()
        lam.invoke(FunctionName="private")
        mine.until(lambda e: e["kind"] == "invocation" and e["function"] == "private")
        theirs = flare.client(key="111111111111")
        create_function(theirs, "theirs", HELLO)
        theirs.invoke(FunctionName="theirs")
        other.until(lambda e: e["kind"] == "invocation" and e["function"] == "theirs")
        assert all(e.get("function") != "private" for e in other.seen)
    finally:
        other.close()
        mine.close()


def test_an_unsigned_stream_is_refused(flare: FlareServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{flare.url}/flare/v1/live", timeout=5)
    assert refused.value.code == 403


@pytest.mark.skipif(
    os.geteuid() != 0 or Cgroups.detect() is None,
    reason="SnapStart restores need the sandbox (root and cgroups)",
)
def test_a_snapstart_cold_start_is_told_as_a_restore(flare: FlareServer, lam: Any) -> None:
    version = snap_function(lam, "snapped", "def handler(event, context):\n    return 1\n")
    stream = LiveStream.signed(flare.url)
    try:
        stream.next()
        lam.invoke(FunctionName="snapped", Qualifier=version)
        done = stream.until(lambda e: e["kind"] == "invocation" and e["function"] == "snapped")
        assert done["start"] == "restore" and done["init_ms"] > 0 and done["version"] == version
        phases = [
            e["phase"] for e in stream.seen if e.get("function") == "snapped" and e["kind"] == "environment"
        ]
        assert "restoring" in phases and "initializing" not in phases
        assert {e["initialization_type"] for e in stream.seen if e["kind"] == "environment"} == {"snap-start"}
    finally:
        stream.close()
