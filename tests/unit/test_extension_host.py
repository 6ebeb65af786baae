"""An environment's extensions: registration, the phases they gate, and how their ends are named."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

import pytest

from flare.sandbox.extensions import ALLOWED, ExtensionHost, ExtState, failure_type, invoke_event
from flare.sandbox.runtime_api import RuntimeApiError

EXITED_1 = 1 << 8  # a raw wait status: exit(1)
LAUNCH_FAILED = 127 << 8
KILLED = 9  # by SIGKILL


def refused(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(RuntimeApiError) as raised:
        call()
    return raised.value.status, raised.value.error_type


def test_every_state_has_its_moves_and_exited_is_final() -> None:
    assert set(ALLOWED) == set(ExtState)
    assert ALLOWED[ExtState.EXITED] == frozenset()
    assert all(ExtState.EXITED in moves for state, moves in ALLOWED.items() if state is not ExtState.EXITED)


def test_init_waits_for_every_external_extension_to_register_then_to_call_next() -> None:
    async def scenario() -> None:
        failures: list[tuple[str, str]] = []
        host = ExtensionHost(["a", "b"], lambda kind, message: failures.append((kind, message)))
        registered, ready = host.registered(), host.ready()
        a = host.register("a", ["INVOKE"])
        assert not registered.done()
        b = host.register("b", ["INVOKE", "SHUTDOWN"])
        assert registered.done() and not ready.done()
        waiting = [asyncio.ensure_future(host.next(extension)) for extension in (a, b)]
        await asyncio.sleep(0)
        assert ready.done()
        host.deliver("INVOKE", invoke_event("r1", 1, "arn", "Root=1"))
        events = await asyncio.gather(*waiting)
        assert [event["requestId"] for event in events] == ["r1", "r1"]
        quiet = host.quiet()
        assert not quiet.done(), "both are handling the event"
        again = asyncio.ensure_future(host.next(a))
        await asyncio.sleep(0)
        assert not quiet.done()
        host.process_ended("b", EXITED_1)
        assert quiet.done()
        assert failures == [("Extension.Crash", "Extension b exited: exit status 1")]
        again.cancel()

    asyncio.run(scenario())


def test_registration_refusals() -> None:
    async def scenario() -> None:
        host = ExtensionHost(["ext"], lambda kind, message: None)
        assert refused(lambda: host.register("ext", ["LAUNCH"])) == (403, "Extension.InvalidEventType")
        host.register("ext", ["INVOKE"])
        assert refused(lambda: host.register("ext", [])) == (403, "Extension.InvalidExtensionState")
        internal = ["INVOKE", "SHUTDOWN"]
        assert refused(lambda: host.register("inside", internal)) == (403, "Extension.InvalidEventType")
        host.close_registration()
        assert refused(lambda: host.register("late", ["INVOKE"])) == (403, "Extension.RegistrationClosed")
        assert refused(lambda: host.find(None)) == (403, "Extension.MissingExtensionIdentifier")
        assert refused(lambda: host.find("nope")) == (403, "Extension.InvalidExtensionIdentifier")
        unknown = "00000000-0000-4000-8000-000000000000"
        assert refused(lambda: host.find(unknown)) == (403, "Extension.UnknownExtensionIdentifier")

    asyncio.run(scenario())


def test_an_ended_process_is_named_by_what_it_did_last() -> None:
    async def scenario() -> None:
        host = ExtensionHost(["launched", "reported", "crashed"], lambda kind, message: None)
        launched, reported, crashed = host.extensions()
        assert failure_type(launched, LAUNCH_FAILED) == "Extension.LaunchError"
        assert failure_type(launched, EXITED_1) == "Extension.Crash"
        host.register("reported", [])
        host.report_error(reported, "Fatal.Config", during_init=True)
        assert failure_type(reported, EXITED_1) == "Extension.InitError"
        host.register("crashed", [])
        assert failure_type(crashed, KILLED) == "Extension.Crash"
        assert os.WIFSIGNALED(KILLED)

    asyncio.run(scenario())


def test_shutdown_goes_to_those_that_asked_and_its_endings_are_no_failures() -> None:
    async def scenario() -> None:
        failures: list[tuple[str, str]] = []
        host = ExtensionHost(["listens", "deaf"], lambda kind, message: failures.append((kind, message)))
        listens, deaf = host.register("listens", ["SHUTDOWN"]), host.register("deaf", ["INVOKE"])
        got = asyncio.ensure_future(host.next(listens))
        deaf_waits = asyncio.ensure_future(host.next(deaf))
        await asyncio.sleep(0)
        ended = host.ended()
        host.shut_down("spindown", 2000)
        assert (await got) == {"eventType": "SHUTDOWN", "shutdownReason": "spindown", "deadlineMs": 2000}
        host.process_ended("listens", 0)
        host.process_ended("deaf", KILLED)
        assert ended.done()
        await asyncio.sleep(0)
        assert deaf_waits.cancelled(), "its next ends with its process"
        assert failures == []

    asyncio.run(scenario())
