"""A Java function's ``LambdaLogger`` as Lambda's Java runtime writes it, through boto3 against
``flare serve``: Text prints a call without a level as its bare message and a leveled call as
``[LEVEL] message``; ``LoggingConfig.LogFormat: JSON`` makes each String call one JSON record
(``timestamp``, ``message``, ``level``, ``AWSRequestId``), filtered by ``ApplicationLogLevel``,
while bytes and ``System.out`` stay as they were written."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tests.conftest import FlareServer
from tests.functional.test_java_runtime import THROWER, java_function
from tests.functional.test_node_runtime import group_messages, invoke, request_id
from tests.functional.test_tenancy import PER_TENANT
from tests.java_functions import have_javac

pytestmark = pytest.mark.skipif(not have_javac(), reason="no javac on this host")

LOGGER = {
    "example/Logs.java": """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.nio.charset.StandardCharsets;
import java.util.Map;

public class Logs implements RequestHandler<Map<String, Object>, String> {
    public String handleRequest(Map<String, Object> event, Context context) {
        LambdaLogger logger = context.getLogger();
        logger.log("plain words");
        for (LogLevel level : LogLevel.values()) {
            if (level != LogLevel.UNDEFINED) logger.log("at " + level, level);
        }
        logger.log("two\\nlines", LogLevel.INFO);
        logger.log("quote \\" and <tag> & tab\\t", LogLevel.WARN);
        logger.log("raw debug bytes".getBytes(StandardCharsets.UTF_8), LogLevel.DEBUG);
        logger.log("raw info bytes".getBytes(StandardCharsets.UTF_8), LogLevel.INFO);
        System.out.println("stdout stays text");
        Thread other = new Thread(() -> logger.log("from another thread", LogLevel.ERROR));
        other.start();
        try {
            other.join();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
        return "done";
    }
}
""",
}
RUNTIME_LOGGER = {
    "example/Runtime.java": """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.logging.LogLevel;
import java.util.Map;

public class Runtime implements RequestHandler<Map<String, Object>, String> {
    public String handleRequest(Map<String, Object> event, Context context) {
        LambdaRuntime.getLogger().log("through LambdaRuntime", LogLevel.WARN);
        return "done";
    }
}
""",
}
BAD_CLASS = {
    "example/Bad.java": """
package example;

public class Bad {
    static { if (true) throw new IllegalStateException("no config"); }
    public static String handle() { return "never"; }
}
""",
}
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def records(log: str) -> list[dict[str, Any]]:
    """The function's JSON records in a log tail (the platform's own, with a ``type``, left out)."""
    found = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    return [record for record in found if "type" not in record]


def plain_lines(log: str) -> list[str]:
    """The log tail's lines that are not JSON records nor the platform's text lines."""
    platform = ("START ", "END ", "REPORT ", "INIT_START ")
    return [line for line in log.splitlines() if not line.startswith(("{", *platform)) and line]


def test_text_prints_bare_messages_and_leveled_calls_with_their_level(lam: Any) -> None:
    name = java_function(lam, LOGGER, "example.Logs")
    _, body, log = invoke(lam, name)
    assert body == "done", log
    assert plain_lines(log) == [
        "plain words",
        "[TRACE] at TRACE",
        "[DEBUG] at DEBUG",
        "[INFO] at INFO",
        "[WARN] at WARN",
        "[ERROR] at ERROR",
        "[FATAL] at FATAL",
        "[INFO] two",
        "lines",
        '[WARN] quote " and <tag> & tab\t',
        "raw debug bytes",
        "raw info bytes",
        "stdout stays text",
        "[ERROR] from another thread",
    ]


def test_json_makes_each_string_call_one_record_in_lambdas_field_order(lam: Any) -> None:
    config = {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"}
    name = java_function(lam, LOGGER, "example.Logs", LoggingConfig=config)
    before = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 60))
    response, body, log = invoke(lam, name)
    assert body == "done", log
    rid = request_id(response)
    found = records(log)
    assert [(r["level"], r["message"]) for r in found] == [
        ("UNDEFINED", "plain words"),
        ("DEBUG", "at DEBUG"),
        ("INFO", "at INFO"),
        ("WARN", "at WARN"),
        ("ERROR", "at ERROR"),
        ("FATAL", "at FATAL"),
        ("INFO", "two\nlines"),
        ("WARN", 'quote " and <tag> & tab\t'),
        ("ERROR", "from another thread"),
    ]
    for record in found[:-1]:
        assert list(record) == ["timestamp", "message", "level", "AWSRequestId"], record
        assert record["AWSRequestId"] == rid
        assert STAMP.fullmatch(record["timestamp"]) and record["timestamp"] > before, record
    # the request id is the serving thread's: a thread of the handler's logs without one
    assert list(found[-1]) == ["timestamp", "message", "level"]
    quoted = next(line for line in log.splitlines() if "quote" in line)
    stamp = found[7]["timestamp"]
    assert quoted == (
        f'{{"timestamp":"{stamp}","message":"quote \\" and <tag> & tab\\t","level":"WARN",'
        f'"AWSRequestId":"{rid}"}}'
    )
    # bytes are written as they are, and System.out is not the logger's
    assert plain_lines(log) == ["raw debug bytes", "raw info bytes", "stdout stays text"]


def test_json_drops_leveled_calls_below_the_application_log_level(lam: Any) -> None:
    config = {"LogFormat": "JSON", "ApplicationLogLevel": "INFO"}
    name = java_function(lam, LOGGER, "example.Logs", LoggingConfig=config)
    _, body, log = invoke(lam, name)
    assert body == "done", log
    assert [(r["level"], r["message"]) for r in records(log)] == [
        ("UNDEFINED", "plain words"),  # a call without a level is never the runtime's to drop
        ("INFO", "at INFO"),
        ("WARN", "at WARN"),
        ("ERROR", "at ERROR"),
        ("FATAL", "at FATAL"),
        ("INFO", "two\nlines"),
        ("WARN", 'quote " and <tag> & tab\t'),
        ("ERROR", "from another thread"),
    ]
    # the runtime drops the DEBUG bytes (written as they are, the platform would take them for
    # INFO and keep them); plain text is INFO to the platform and stays
    assert plain_lines(log) == ["raw info bytes", "stdout stays text"]


def test_json_logs_an_unhandled_exception_as_one_error_record(lam: Any) -> None:
    name = java_function(lam, THROWER, "example.Boom", LoggingConfig={"LogFormat": "JSON"})
    response, body, log = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    (record,) = records(log)
    assert list(record) == ["timestamp", "message", "level", "AWSRequestId"]
    assert (record["level"], record["AWSRequestId"]) == ("ERROR", request_id(response))
    message = record["message"]
    assert message.startswith(
        "it broke: java.lang.IllegalStateException\n"
        "java.lang.IllegalStateException: it broke\n"
        "\tat example.Boom.handleRequest(Boom.java:13)\n"
        "Caused by: java.lang.IllegalArgumentException: the reason\n"
    ), message
    assert message.endswith("\n\n"), message  # the trace, then the runtime's own newline
    assert plain_lines(log) == []
    assert body["errorType"] == "java.lang.IllegalStateException"


@pytest.fixture(scope="module")
def logs(flare: FlareServer) -> Any:
    return flare.client("logs")


def test_json_logs_an_init_failure_as_an_error_record_of_no_request(lam: Any, logs: Any) -> None:
    name = java_function(lam, BAD_CLASS, "example.Bad::handle", LoggingConfig={"LogFormat": "JSON"})
    response, _, _ = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    found = records("\n".join(group_messages(logs, name, "Error loading class")))
    record = next(r for r in found if "Error loading class" in r.get("message", ""))
    assert list(record) == ["timestamp", "message", "level"]  # INIT serves no request
    assert record["level"] == "ERROR"
    assert record["message"].startswith(
        "Error loading class example.Bad: java.lang.ExceptionInInitializerError\n"
    ), record


def test_lambda_runtime_get_logger_is_the_same_logger(lam: Any) -> None:
    name = java_function(lam, RUNTIME_LOGGER, "example.Runtime", LoggingConfig={"LogFormat": "JSON"})
    response, body, log = invoke(lam, name)
    assert body == "done", log
    (record,) = records(log)
    assert (record["level"], record["message"]) == ("WARN", "through LambdaRuntime")
    assert record["AWSRequestId"] == request_id(response)


def test_a_tenant_isolated_functions_records_name_the_tenant_last(lam: Any) -> None:
    name = java_function(
        lam, RUNTIME_LOGGER, "example.Runtime", LoggingConfig={"LogFormat": "JSON"}, TenancyConfig=PER_TENANT
    )
    response, body, log = invoke(lam, name, TenantId="blue")
    assert body == "done", log
    (record,) = records(log)
    assert list(record) == ["timestamp", "message", "level", "AWSRequestId", "tenantId"]
    assert (record["AWSRequestId"], record["tenantId"]) == (request_id(response), "blue")
