"""FLARE_DEBUG's variables (control/debug_settings.py), the engine's debug ports
(sandbox/debug_ports.py) and the CLI's attach configuration (cli/debug_launch.py)."""

from __future__ import annotations

import json
import socket

import pytest

from flare.cli.debug_launch import debug_variables, debugger_of, launch_config, merged_launch
from flare.control.debug_settings import DebugSettings, debug_settings
from flare.sandbox.debug_ports import DebugPorts, jdwp_option


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, None),
        ({"FLARE_DEBUG": "0"}, None),
        ({"FLARE_DEBUG": "false"}, None),
        ({"FLARE_DEBUG_PORT": "6000"}, None),
        ({"FLARE_DEBUG": "1"}, DebugSettings(5678, 30.0)),
        ({"FLARE_DEBUG": "TRUE", "FLARE_DEBUG_PORT": "6000"}, DebugSettings(6000, 30.0)),
        ({"FLARE_DEBUG": "on", "FLARE_DEBUG_WAIT": "0"}, DebugSettings(5678, 0.0)),
        ({"FLARE_DEBUG": "yes", "FLARE_DEBUG_WAIT": "2.5", "FLARE_DEBUG_PORT": ""}, DebugSettings(5678, 2.5)),
    ],
)
def test_debug_settings_from_variables(variables: dict[str, str], expected: DebugSettings | None) -> None:
    assert debug_settings(variables) == expected


@pytest.mark.parametrize(
    "variables",
    [
        {"FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": "80"},
        {"FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": "70000"},
        {"FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": "x"},
        {"FLARE_DEBUG": "1", "FLARE_DEBUG_WAIT": "-1"},
        {"FLARE_DEBUG": "1", "FLARE_DEBUG_WAIT": "601"},
    ],
)
def test_debug_settings_out_of_range_are_refused(variables: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="FLARE_DEBUG_"):
        debug_settings(variables)


def _free_run(length: int) -> int:
    """A port with the ``length`` ports from it free now."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            first = int(sock.getsockname()[1])
        if first + length < 65536:
            return first
    raise AssertionError("no free run of ports")


def test_debug_ports_count_up_and_come_back() -> None:
    ports = DebugPorts()
    first = _free_run(3)
    assert [ports.take(first), ports.take(first), ports.take(first)] == [first, first + 1, first + 2]
    ports.release(first + 1)
    assert ports.take(first) == first + 1


def test_debug_ports_skip_a_port_something_else_has_bound() -> None:
    ports = DebugPorts()
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = int(other.getsockname()[1])
        assert ports.take(taken) != taken


def test_launch_json_is_created_and_its_own_configuration_replaced() -> None:
    first = merged_launch(None, launch_config("fn", 5678, "/src"))
    assert first is not None
    mine = json.loads(first)["configurations"]
    assert mine == [launch_config("fn", 5678, "/src")]
    assert mine[0]["pathMappings"] == [{"localRoot": "/src", "remoteRoot": "/var/task"}]
    other = {"name": "mine", "type": "python"}
    existing = json.dumps({"version": "0.2.0", "configurations": [other, launch_config("fn", 1, "/old")]})
    again = merged_launch(existing, launch_config("fn", 5679, "/src"))
    assert again is not None
    assert json.loads(again)["configurations"] == [other, launch_config("fn", 5679, "/src")]


def test_a_launch_json_with_comments_is_left_alone() -> None:
    assert merged_launch('{\n // mine\n "configurations": []}', launch_config("fn", 5678, "/src")) is None


def test_debug_variables_keep_the_functions_own_and_say_when_nothing_changes() -> None:
    wanted = debug_variables({"KEEP": "me"}, DebugSettings(5679, 30.0))
    assert wanted == {"KEEP": "me", "FLARE_DEBUG": "1", "FLARE_DEBUG_PORT": "5679", "FLARE_DEBUG_WAIT": "30"}
    assert debug_variables(wanted, DebugSettings(5679, 30.0)) is None


def test_a_node_function_gets_vs_codes_node_attach_configuration() -> None:
    assert debugger_of("nodejs20.x") == "node" and debugger_of("python3.12") == "debugpy"
    assert debugger_of("provided.al2023") is None
    config = launch_config("fn", 9229, "/src", "node")
    assert (config["type"], config["request"], config["port"]) == ("node", "attach", 9229)
    assert (config["localRoot"], config["remoteRoot"]) == ("/src", "/var/task")


def test_a_java_function_gets_the_java_extensions_attach_configuration() -> None:
    assert debugger_of("java17") == "java" and debugger_of("java8.al2") == "java"
    config = launch_config("fn", 5005, "/src", "java")
    assert config == {
        "name": "Flare: fn",
        "type": "java",
        "request": "attach",
        "hostName": "127.0.0.1",
        "port": 5005,
    }


@pytest.mark.parametrize(("wait", "suspend"), [(30.0, "suspend=y"), (0.0, "suspend=n")])
def test_a_java_environment_waits_under_jdwp_only_when_told_to_wait(wait: float, suspend: str) -> None:
    option = jdwp_option(DebugSettings(5678, wait), 5680)
    assert option.startswith("-agentlib:jdwp=transport=dt_socket,server=y,")
    assert suspend in option and option.endswith("address=127.0.0.1:5680")
