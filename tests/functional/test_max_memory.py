"""REPORT's ``Max Memory Used`` is the environment's resident memory, as Lambda counts it:
runtime, handler and data (``sandbox/resident.py``), not only the pages its cgroup was charged
after the fork from its zygote. Through boto3 against ``flare serve``, for Python, Node.js and
Java.

The hello-world bands are Flare's own figures on this host with room either side (2026-12-05,
128 MB: python3.11-3.13 14-15 MB, nodejs20.x 41 MB; java17 40 MB at 512 MB); Lambda reports more
for the same handlers (python3.12 30-40 MB) because its runtimes are heavier. The lower bounds
fail when only the cgroup's charge is counted (2 MB for Python, 8 MB for Node.js, 22 MB for Java). 50 MB held
report 50-70 MB more: what a peak that counted the copies a runtime makes would exceed.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.conftest import create_function, python_function, zip_files
from tests.functional.test_java_runtime import java_function
from tests.functional.test_node_runtime import invoke
from tests.java_functions import have_javac

PYTHON_HELLO = "def handler(event, context):\n    return 'hello'\n"
PYTHON_HOLDS_50_MB = """
HELD = []
def handler(event, context):
    if event.get("hold"):
        HELD.append(bytearray(b"x") * (50 * 1024 * 1024))
    return len(HELD)
"""
NODE_HELLO = "exports.handler = async () => 'hello';\n"
NODE_HOLDS_50_MB = """
const held = [];
exports.handler = async (event) => {
  if (event.hold) held.push(Buffer.alloc(50 * 1024 * 1024, 1));
  return held.length;
};
"""
JAVA = {
    "example/Holder.java": """
package example;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public class Holder {
    static final List<byte[]> HELD = new ArrayList<>();
    public int handle(Map<String, Object> event) {
        if (event.containsKey("hold")) {
            byte[] block = new byte[50 * 1024 * 1024];
            java.util.Arrays.fill(block, (byte) 1);
            HELD.add(block);
        }
        return HELD.size();
    }
}
""",
}


def max_memory_used(log: str) -> int:
    found = re.search(r"Max Memory Used: (\d+) MB", log)
    assert found, log
    return int(found.group(1))


def used_before_and_after_holding(lam: Any, name: str) -> tuple[int, int]:
    """Max Memory Used of a warm invoke that holds nothing, then of one that holds 50 MB."""
    invoke(lam, name)
    before = max_memory_used(invoke(lam, name)[2])
    response, held, log = invoke(lam, name, {"hold": True})
    assert held == 1, (response, held, log)
    return before, max_memory_used(log)


@pytest.mark.parametrize("runtime", ["python3.11", "python3.12"])
def test_a_python_hello_world_reports_its_interpreter_and_50_mb_held_report_50_more(
    lam: Any, runtime: str
) -> None:
    name = f"mem-{runtime.replace('.', '')}"
    create_function(lam, name, python_function(PYTHON_HOLDS_50_MB), runtime=runtime, MemorySize=256)
    before, after = used_before_and_after_holding(lam, name)
    assert 10 <= before <= 40, before
    assert 50 <= after - before <= 70, (before, after)
    hello = f"hello-{runtime.replace('.', '')}"
    create_function(lam, hello, python_function(PYTHON_HELLO), runtime=runtime, MemorySize=128)
    assert 10 <= max_memory_used(invoke(lam, hello)[2]) <= 40


def test_a_node_hello_world_reports_its_runtime_and_50_mb_held_report_50_more(lam: Any) -> None:
    code = zip_files({"index.js": NODE_HOLDS_50_MB})
    create_function(lam, "mem-node", code, handler="index.handler", runtime="nodejs20.x", MemorySize=256)
    before, after = used_before_and_after_holding(lam, "mem-node")
    assert 25 <= before <= 90, before
    assert 50 <= after - before <= 70, (before, after)


@pytest.mark.skipif(not have_javac(), reason="needs javac")
def test_a_java_handler_holding_50_mb_reports_50_more(lam: Any) -> None:
    name = java_function(lam, JAVA, "example.Holder::handle", MemorySize=512)
    before, after = used_before_and_after_holding(lam, name)
    assert 30 <= before <= 200, before
    assert 50 <= after - before <= 70, (before, after)


def test_a_snapstart_restore_counts_its_init_and_runtime_processes_pages_once(lam: Any) -> None:
    create_function(lam, "mem-snap", python_function(PYTHON_HELLO), runtime="python3.12", MemorySize=256)
    on_demand = max_memory_used(invoke(lam, "mem-snap")[2])
    lam.update_function_configuration(FunctionName="mem-snap", SnapStart={"ApplyOn": "PublishedVersions"})
    while lam.get_function_configuration(FunctionName="mem-snap")["LastUpdateStatus"] != "Successful":
        time.sleep(0.05)
    version = lam.publish_version(FunctionName="mem-snap")["Version"]
    while lam.get_function_configuration(FunctionName="mem-snap", Qualifier=version)["State"] != "Active":
        time.sleep(0.1)
    _, _, log = invoke(lam, "mem-snap", Qualifier=version)
    assert "Restore Duration" in log
    # a restore is two processes forked from one another (its pid-namespace init, the runtime)
    assert 10 <= max_memory_used(log) <= on_demand + 5, (on_demand, log)
