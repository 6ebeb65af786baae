"""Java functions (``java17`` on this host's OpenJDK 17, ``java21`` on the nearest newer JDK)
through boto3 against ``flare serve``: handlers as Lambda loads them, POJOs through JSON, the
context and its logger, errors and init errors in Lambda's Java shape."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FlareServer, create_function, zip_files
from tests.functional.test_node_runtime import group_messages, invoke, request_id
from tests.java_functions import have_javac, java_zip

pytestmark = pytest.mark.skipif(not have_javac(), reason="no javac on this host")
RUNTIME = "java17"


def java_function(
    lam: Any,
    sources: Mapping[str, str],
    handler: str,
    layout: str = "root",
    libraries: tuple[str, ...] = (),
    **config: Any,
) -> str:
    name = f"java-{uuid.uuid4().hex[:8]}"
    runtime = config.pop("Runtime", RUNTIME)
    config.setdefault("Timeout", 30)  # a JVM's start on a busy host is no test's subject
    code = zip_files(java_zip(sources, layout, libraries))
    create_function(lam, name, code, handler=handler, runtime=runtime, **config)
    return name


@pytest.fixture(scope="module")
def logs(flare: FlareServer) -> Any:
    return flare.client("logs")


CONTEXT_HANDLER = {
    "example/Describe.java": """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;

public class Describe implements RequestHandler<Map<String, Object>, String> {
    public String handleRequest(Map<String, Object> event, Context context) {
        context.getLogger().log("logger says " + event.get("name"));
        System.out.println("stdout says hi");
        System.err.println("stderr says hi");
        return String.join("|", "hello " + event.get("name"), context.getFunctionName(),
            context.getFunctionVersion(), context.getInvokedFunctionArn(), context.getAwsRequestId(),
            String.valueOf(context.getMemoryLimitInMB()), context.getLogGroupName(),
            String.valueOf(context.getRemainingTimeInMillis() > 0), String.valueOf(context.getIdentity()),
            String.valueOf(context.getClientContext()));
    }
}
""",
}


@pytest.mark.parametrize("layout", ["root", "lib"])
def test_a_request_handler_class_answers_with_its_context(lam: Any, layout: str) -> None:
    name = java_function(lam, CONTEXT_HANDLER, "example.Describe", layout, MemorySize=512)
    response, body, log = invoke(lam, name, {"name": "Ada"})
    assert "FunctionError" not in response, (body, log)
    parts = body.split("|")
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert parts == [
        "hello Ada",
        name,
        "$LATEST",
        arn,
        request_id(response),
        "512",
        f"/aws/lambda/{name}",
        "true",
        "null",
        "null",
    ]
    lines = log.splitlines()
    assert lines[0].startswith(f"START RequestId: {request_id(response)}")
    assert {"logger says Ada", "stdout says hi", "stderr says hi"} <= set(lines)
    assert lines[-1].startswith(f"REPORT RequestId: {request_id(response)}")


def test_the_identity_and_client_context_reach_the_handler(lam: Any) -> None:
    sources = {
        "example/Who.java": """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import java.util.Map;

public class Who {
    public String handle(Map<String, Object> event, Context context) {
        return context.getClientContext().getClient().getAppTitle() + "/"
            + context.getClientContext().getCustom().get("k") + "/"
            + context.getClientContext().getEnvironment().get("e");
    }
}
""",
    }
    name = java_function(lam, sources, "example.Who::handle")
    client_context = {"client": {"app_title": "the app"}, "custom": {"k": "v"}, "env": {"e": "f"}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    _, body, _ = invoke(lam, name, {}, ClientContext=encoded)
    assert body == "the app/v/f"


def test_a_request_stream_handler_reads_and_writes_raw_bytes(lam: Any) -> None:
    sources = {
        "example/Shout.java": """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.*;
import java.nio.charset.StandardCharsets;

public class Shout implements RequestStreamHandler {
    public void handleRequest(InputStream in, OutputStream out, Context context) throws IOException {
        String event = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        out.write(("{\\"shouted\\": " + event.toUpperCase() + "}").getBytes(StandardCharsets.UTF_8));
    }
}
""",
    }
    name = java_function(lam, sources, "example.Shout")
    _, body, _ = invoke(lam, name, {"word": "quiet"})
    assert body == {"shouted": {"WORD": "QUIET"}}


POJO_HANDLER = {
    "example/Order.java": """
package example;

import java.util.List;

public class Order {
    private String item;
    private int quantity;
    private List<Double> prices;
    public String getItem() { return item; }
    public void setItem(String item) { this.item = item; }
    public int getQuantity() { return quantity; }
    public void setQuantity(int quantity) { this.quantity = quantity; }
    public List<Double> getPrices() { return prices; }
    public void setPrices(List<Double> prices) { this.prices = prices; }
}
""",
    "example/Receipt.java": """
package example;

public class Receipt {
    private final String line;
    private final double total;
    public Receipt(String line, double total) { this.line = line; this.total = total; }
    public String getLine() { return line; }
    public double getTotal() { return total; }
    public boolean isPaid() { return true; }
}
""",
    "example/Shop.java": """
package example;

import com.amazonaws.services.lambda.runtime.Context;

public class Shop {
    public Receipt checkout(Order order, Context context) {
        double total = 0;
        for (double price : order.getPrices()) total += price * order.getQuantity();
        return new Receipt(order.getQuantity() + " x " + order.getItem(), total);
    }

    public static int twice(int n) { return 2 * n; }

    public void nothing() { }
}
""",
}


def test_a_class_method_handler_takes_and_gives_pojos(lam: Any) -> None:
    name = java_function(lam, POJO_HANDLER, "example.Shop::checkout")
    _, body, _ = invoke(lam, name, {"item": "tea", "quantity": 2, "prices": [1.5, 2], "unknown": True})
    assert body == {"line": "2 x tea", "total": 7.0, "paid": True}


def test_static_primitive_and_void_handlers(lam: Any) -> None:
    twice = java_function(lam, POJO_HANDLER, "example.Shop::twice")
    response = lam.invoke(FunctionName=twice, Payload=b"21")
    assert response["Payload"].read() == b"42"
    nothing = java_function(lam, POJO_HANDLER, "example.Shop::nothing")
    response = lam.invoke(FunctionName=nothing, Payload=b"{}")
    assert response["Payload"].read() == b"null"


def test_an_event_that_does_not_fit_the_input_type_is_a_json_parsing_error(lam: Any) -> None:
    name = java_function(lam, POJO_HANDLER, "example.Shop::twice")
    response = lam.invoke(FunctionName=name, Payload=b'"not a number"')
    body = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "java.lang.RuntimeException"
    assert body["errorMessage"] == "An error occurred during JSON parsing"
    assert body["cause"]["errorType"] == "java.lang.IllegalArgumentException"


JACKSON = tuple(
    f"/usr/share/java/jackson-{part}.jar" for part in ("databind", "core", "annotations")
)  # Debian's libjackson2-databind-java


@pytest.mark.skipif(
    not all(Path(jar).is_file() for jar in JACKSON), reason="no Jackson jars (apt: libjackson2-databind-java)"
)
def test_pojos_go_through_jackson_when_the_function_carries_it(lam: Any) -> None:
    sources = {
        "example/Person.java": """
package example;

import com.fasterxml.jackson.annotation.JsonProperty;

public class Person {
    @JsonProperty("first_name") public String firstName;
    @JsonProperty("greeting_text") public String greeting;
}
""",
        "example/Greeter.java": """
package example;

public class Greeter {
    public Person greet(Person person) {
        person.greeting = "hello " + person.firstName;
        return person;
    }
}
""",
    }
    name = java_function(lam, sources, "example.Greeter::greet", libraries=JACKSON)
    _, body, _ = invoke(lam, name, {"first_name": "Ada", "unknown": 1})
    assert body == {"first_name": "Ada", "greeting_text": "hello Ada"}


THROWER = {
    "example/Boom.java": """
package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.Map;

public class Boom implements RequestHandler<Map<String, Object>, String> {
    public String handleRequest(Map<String, Object> event, Context context) {
        try {
            inner();
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("it broke", e);
        }
        return "never";
    }

    private static void inner() {
        throw new IllegalArgumentException("the reason");
    }
}
""",
}


def test_an_exception_gives_lambdas_java_error_shape_and_log(lam: Any) -> None:
    name = java_function(lam, THROWER, "example.Boom")
    response, body, log = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "java.lang.IllegalStateException"
    assert body["errorMessage"] == "it broke"
    assert body["stackTrace"] == ["example.Boom.handleRequest(Boom.java:13)"]
    cause = body["cause"]
    assert cause["errorType"] == "java.lang.IllegalArgumentException"
    assert cause["errorMessage"] == "the reason"
    assert cause["stackTrace"] == [
        "example.Boom.inner(Boom.java:19)",
        "example.Boom.handleRequest(Boom.java:11)",
    ]
    assert "cause" not in cause
    assert "it broke: java.lang.IllegalStateException" in log.splitlines()
    assert "\tat example.Boom.handleRequest(Boom.java:13)" in log.splitlines()
    # the environment lives on
    response, _, _ = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"


def test_a_missing_class_fails_each_invocation_not_init_as_lambdas_java_runtime_does(lam: Any) -> None:
    name = java_function(lam, THROWER, "example.Missing")
    for attempt in range(2):
        response, body, log = invoke(lam, name)
        assert response["FunctionError"] == "Unhandled"
        assert body == {
            "errorMessage": "Class not found: example.Missing",
            "errorType": "java.lang.ClassNotFoundException",
        }
        assert "Class not found: example.Missing: java.lang.ClassNotFoundException" in log.splitlines()
        assert ("Init Duration" in log) == (attempt == 0)  # INIT succeeded: the environment is reused


def test_a_method_that_is_not_there_fails_each_invocation_with_a_message_only(lam: Any) -> None:
    name = java_function(lam, POJO_HANDLER, "example.Shop::absent")
    message = "No public method named absent with appropriate method signature found on class example.Shop"
    response, body, log = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert body == {"errorMessage": message}
    assert message in log.splitlines()


def test_a_static_initialiser_that_throws_fails_init(lam: Any, logs: Any) -> None:
    sources = {
        "example/Bad.java": """
package example;

public class Bad {
    static { if (true) throw new IllegalStateException("no config"); }
    public static String handle() { return "never"; }
}
""",
    }
    name = java_function(lam, sources, "example.Bad::handle")
    response, body, _ = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "java.lang.ExceptionInInitializerError"
    assert body["errorMessage"] == "Error loading class example.Bad"
    lines = [m.rstrip("\n") for m in group_messages(logs, name, "Error loading class")]
    assert "Error loading class example.Bad: java.lang.ExceptionInInitializerError" in lines


def test_a_constructor_that_throws_fails_init_with_its_exception(lam: Any) -> None:
    sources = {
        "example/Picky.java": """
package example;

public class Picky {
    public Picky() { throw new IllegalStateException("no config"); }
    public String handle() { return "never"; }
}
""",
    }
    name = java_function(lam, sources, "example.Picky::handle")
    _, body, _ = invoke(lam, name)
    assert body["errorType"] == "java.lang.IllegalStateException"
    assert body["errorMessage"] == "Error loading class example.Picky: no config"
    assert body["stackTrace"][0].startswith("example.Picky.<init>(Picky.java:")


def test_java21_runs_on_the_nearest_newer_jdk_and_the_log_says_so(lam: Any, logs: Any) -> None:
    sources = {
        "example/Version.java": """
package example;

public class Version {
    public static String handle() { return System.getProperty("java.specification.version"); }
}
""",
    }
    name = java_function(lam, sources, "example.Version::handle", Runtime="java21")
    _, body, _ = invoke(lam, name)
    assert int(body) >= 21
    messages = group_messages(logs, name, "is not installed")
    if body != "21":
        assert f"flare: java21 is not installed on this host; running on java{body} instead" in [
            m.rstrip("\n") for m in messages
        ]


def test_the_jvm_gets_lambdas_options_and_java_tool_options(lam: Any) -> None:
    sources = {
        "example/Flags.java": """
package example;

import java.lang.management.ManagementFactory;

public class Flags {
    public static String handle() {
        return String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments())
            + " | " + Runtime.getRuntime().maxMemory() / 1024 + " | " + java.util.UUID.randomUUID();
    }
}
""",
    }
    name = java_function(
        lam,
        sources,
        "example.Flags::handle",
        MemorySize=256,
        Environment={"Variables": {"JAVA_TOOL_OPTIONS": "-Dflare.test=yes"}},
    )
    _, body, _ = invoke(lam, name)
    flags, _, _ = body.split(" | ")
    assert f"-XX:MaxHeapSize={int(256 * 1024 * 0.85)}k" in flags.split()
    assert {"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dflare.test=yes"} <= set(flags.split())
    assert re.search(r"[0-9a-f-]{36}$", body)  # SecureRandom works in the sandbox


def test_snapstart_on_a_java_function_is_refused_saying_why(lam: Any) -> None:
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        java_function(lam, POJO_HANDLER, "example.Shop::twice", SnapStart={"ApplyOn": "PublishedVersions"})
    message = refused.value.response["Error"]["Message"]
    assert message.startswith("java17 is not supported for SnapStart enabled functions by Flare: ")
    assert "CRaC" in message
    name = java_function(lam, POJO_HANDLER, "example.Shop::twice")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "PublishedVersions"})


def test_a_wrapper_script_starts_the_jvm_with_the_runtimes_command_line(lam: Any) -> None:
    sources = {
        "example/Wrapped.java": """
package example;

import java.lang.management.ManagementFactory;

public class Wrapped {
    public static String handle() {
        return System.getenv("WRAPPED_BY") + " " + System.getProperty("java.home") + " "
            + ManagementFactory.getRuntimeMXBean().getInputArguments().contains("-XX:+UseSerialGC");
    }
}
""",
    }
    files: dict[str, str | bytes] = {
        **java_zip(sources),
        "wrap.sh": '#!/bin/sh\nexport WRAPPED_BY="$0"\nexec "$@"\n',
    }
    name = f"java-{uuid.uuid4().hex[:8]}"
    variables = {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrap.sh"}
    create_function(
        lam,
        name,
        zip_files(files, {"wrap.sh": 0o755}),
        handler="example.Wrapped::handle",
        runtime=RUNTIME,
        Environment={"Variables": variables},
        Timeout=30,
    )
    response, body, _ = invoke(lam, name)
    assert "FunctionError" not in response, body
    assert body == "/var/task/wrap.sh /var/lang true"
