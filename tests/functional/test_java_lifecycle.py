"""Java environments live as Python's do: timeout, out of memory (the heap's, reported by the
runtime as Lambda's Java runtime reports it; the environment's, killed by its memory limit), and
cold starts served from spares, through boto3 against ``flare serve``."""

from __future__ import annotations

import time
from typing import Any

from tests.functional.test_java_runtime import java_function
from tests.functional.test_node_runtime import invoke, request_id

SLEEPER = {
    "example/Sleeper.java": """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import java.util.Map;

public class Sleeper {
    static final String JVM = java.util.UUID.randomUUID().toString();
    public String handle(Map<String, Object> event, Context context) throws InterruptedException {
        if (event.containsKey("sleep")) Thread.sleep(5000);
        return context.getLogStreamName() + "/" + JVM;
    }
}
""",
}


def test_a_handler_past_its_timeout_is_stopped_and_the_next_invoke_gets_a_new_environment(lam: Any) -> None:
    name = java_function(lam, SLEEPER, "example.Sleeper::handle", Timeout=2)
    _, before, _ = invoke(lam, name)
    started = time.monotonic()
    response, body, log = invoke(lam, name, {"sleep": True})
    assert time.monotonic() - started < 4.5
    assert body["errorType"] == "Sandbox.Timedout"
    assert (
        body["errorMessage"] == f"RequestId: {request_id(response)} Error: Task timed out after 2.00 seconds"
    )
    assert "Task timed out after 2.00 seconds" in log
    _, after, _ = invoke(lam, name)
    assert after != before


HOARDER = {
    "example/Hoarder.java": """
package example;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

public class Hoarder {
    static final List<Object> HOARD = new ArrayList<>();
    static final String JVM = java.util.UUID.randomUUID().toString();

    public String handle(Map<String, Object> event) throws ReflectiveOperationException {
        if (event.containsKey("heap")) for (;;) HOARD.add(new byte[4 * 1024 * 1024]);
        if (event.containsKey("native")) {
            Field field = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
            field.setAccessible(true);
            sun.misc.Unsafe unsafe = (sun.misc.Unsafe) field.get(null);
            for (;;) unsafe.setMemory(unsafe.allocateMemory(4 << 20), 4 << 20, (byte) 1);
        }
        return "alive " + JVM;
    }
}
""",
}


def test_a_full_heap_is_the_handlers_out_of_memory_error_and_the_jvm_is_not_reused(lam: Any) -> None:
    name = java_function(lam, HOARDER, "example.Hoarder::handle", MemorySize=256)
    _, before, _ = invoke(lam, name)
    response, body, log = invoke(lam, name, {"heap": True})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "java.lang.OutOfMemoryError"
    assert body["errorMessage"] == "Java heap space"
    assert body["stackTrace"][0].startswith("example.Hoarder.handle(Hoarder.java:")
    assert "Java heap space: java.lang.OutOfMemoryError" in log.splitlines()
    # The JVM stops after posting its error, before asking for more work: as on Lambda, the
    # next invocation runs in a new environment, whether it came before or after that stop.
    response, after, _ = invoke(lam, name)
    assert "FunctionError" not in response, after
    assert isinstance(after, str) and after.startswith("alive") and after != before


def test_memory_outside_the_heap_past_the_limit_kills_the_invocation_with_aws_error(lam: Any) -> None:
    name = java_function(lam, HOARDER, "example.Hoarder::handle", MemorySize=128)
    response, body, _ = invoke(lam, name, {"native": True})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory", body
    assert "Runtime exited with error: signal: killed" in body["errorMessage"]


STARTED = {
    "example/Started.java": """
package example;

import java.lang.management.ManagementFactory;

public class Started {
    public static long handle() { return ManagementFactory.getRuntimeMXBean().getStartTime(); }
}
""",
}


def test_a_cold_start_takes_a_jvm_started_ahead_of_it(lam: Any) -> None:
    name = java_function(lam, STARTED, "example.Started::handle")
    time.sleep(2)  # the spare that the deploy started boots meanwhile
    invoked_at_ms = time.time() * 1000
    _, started_ms, log = invoke(lam, name)
    assert "Init Duration" in log  # a cold start
    assert started_ms < invoked_at_ms - 500  # its JVM was running well before the invoke
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"BUMP": "1"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    time.sleep(2)
    invoked_at_ms = time.time() * 1000
    _, started_again_ms, _ = invoke(lam, name)
    assert started_ms < started_again_ms < invoked_at_ms - 500  # a new spare, for the new revision
