"""Node.js functions (``nodejs20.x`` on this host's Node 20) through boto3 against ``flare serve``:
how handlers load, the context, console lines, errors as Lambda's Node.js runtime reports them."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from tests.conftest import ROLE, FlareServer, create_function, zip_files
from tests.roles import ALLOW_ALL, attach_policy

RUNTIME = "nodejs20.x"
LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t(?P<id>[0-9a-f-]{36}|undefined)\t(?P<level>[A-Z]+)\t(?P<msg>.*)$"
)


def node_function(
    lam: Any, files: Mapping[str, str | bytes], handler: str = "index.handler", **config: Any
) -> str:
    name = f"node-{uuid.uuid4().hex[:8]}"
    config.setdefault("Runtime", RUNTIME)
    runtime = config.pop("Runtime")
    config.setdefault("Timeout", 30)  # no timeout on a busy host unless a test asks for one
    create_function(lam, name, zip_files(dict(files)), handler=handler, runtime=runtime, **config)
    return name


def invoke(lam: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any, str]:
    """The response, its decoded payload and its log tail."""
    response = lam.invoke(
        FunctionName=name, Payload=json.dumps(event or {}).encode(), LogType="Tail", **kwargs
    )
    payload = response["Payload"].read()
    log = base64.b64decode(response.get("LogResult", "")).decode()
    return response, json.loads(payload) if payload else None, log


def request_id(response: dict[str, Any]) -> str:
    return str(response["ResponseMetadata"]["RequestId"])


@pytest.fixture(scope="module")
def logs(flare: FlareServer) -> Any:
    return flare.client("logs")


def group_messages(logs: Any, name: str, wanted: str, timeout: float = 10) -> list[str]:
    """The messages of ``name``'s log group, once one of them contains ``wanted``."""
    deadline = time.monotonic() + timeout
    while True:
        messages = [
            e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        ]
        if any(wanted in m for m in messages) or time.monotonic() > deadline:
            return messages
        time.sleep(0.05)


# ---- handlers as Lambda loads them ----------------------------------------------------------

CONTEXT = """
exports.handler = async (event, context) => ({
  event,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  awsRequestId: context.awsRequestId,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  remaining: context.getRemainingTimeInMillis(),
  identity: context.identity === undefined ? 'absent' : context.identity,
  clientContext: context.clientContext,
  waits: context.callbackWaitsForEmptyEventLoop,
});
"""


def test_an_async_commonjs_handler_gets_the_event_and_lambdas_context(lam: Any) -> None:
    name = node_function(lam, {"index.js": CONTEXT}, Timeout=7)
    client_context = {"custom": {"tenant": "blue"}, "env": {"locale": "en"}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    response, body, _ = invoke(lam, name, {"n": 1}, ClientContext=encoded)
    assert "FunctionError" not in response
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert body["event"] == {"n": 1}
    assert body["functionName"] == name
    assert body["functionVersion"] == "$LATEST"
    assert body["invokedFunctionArn"] == arn
    assert body["memoryLimitInMB"] == "1024"
    assert body["awsRequestId"] == request_id(response)
    assert body["logGroupName"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", body["logStreamName"])
    assert 5000 < body["remaining"] <= 7000
    assert body["identity"] == "absent"
    assert body["clientContext"] == client_context
    assert body["waits"] is True


@pytest.mark.parametrize(
    ("files", "handler"),
    [
        ({"app.mjs": "export const handler = async (e) => ({ kind: 'mjs', e });"}, "app.handler"),
        (
            {
                "app.js": "export const handler = async (e) => ({ kind: 'type-module', e });",
                "package.json": '{"type": "module"}',
            },
            "app.handler",
        ),
        ({"app.cjs": "exports.handler = async (e) => ({ kind: 'cjs', e });"}, "app.handler"),
        ({"dir/sub/file.js": "exports.fn = async (e) => ({ kind: 'nested', e });"}, "dir/sub/file.fn"),
        (
            {"lib.js": "exports.api = { v1: { get: async (e) => ({ kind: 'property', e }) } };"},
            "lib.api.v1.get",
        ),
    ],
    ids=["mjs", "type-module", "cjs", "nested-path", "nested-property"],
)
def test_handlers_load_from_commonjs_es_modules_and_nested_paths(
    lam: Any, files: dict[str, str], handler: str
) -> None:
    name = node_function(lam, files, handler)
    response, body, _ = invoke(lam, name, {"x": 2})
    assert "FunctionError" not in response, body
    assert body["e"] == {"x": 2}


def test_a_callback_handler_answers_with_what_it_calls_back(lam: Any) -> None:
    source = """
exports.handler = (event, context, callback) => {
  if (event.fail) return callback(new TypeError('bad ' + event.fail));
  setTimeout(() => callback(null, { doubled: event.n * 2 }), 10);
};
"""
    name = node_function(lam, {"index.js": source})
    assert invoke(lam, name, {"n": 21})[1] == {"doubled": 42}
    response, body, _ = invoke(lam, name, {"fail": "input"})
    assert response["FunctionError"] == "Unhandled"
    assert (body["errorType"], body["errorMessage"]) == ("TypeError", "bad input")


def test_a_handler_that_returns_a_promise_answers_when_it_resolves(lam: Any) -> None:
    source = (
        "exports.handler = (event) =>\n"
        "  new Promise((resolve) => setTimeout(() => resolve({ late: event.v }), 20));\n"
    )
    name = node_function(lam, {"index.js": source})
    assert invoke(lam, name, {"v": "yes"})[1] == {"late": "yes"}


WAITER = """
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => console.log('timer done'), 600);
  callback(null, 'answered');
};
"""


@pytest.mark.parametrize("wait", [True, False])
def test_callback_waits_for_an_empty_event_loop_unless_the_context_says_not_to(lam: Any, wait: bool) -> None:
    name = node_function(lam, {"index.js": WAITER})
    invoke(lam, name, {"wait": True})  # the cold start is not what is measured
    started = time.monotonic()
    _response, body, log = invoke(lam, name, {"wait": wait})
    elapsed = time.monotonic() - started
    assert body == "answered"
    if wait:
        assert elapsed >= 0.6
        assert "timer done" in log
    else:
        assert elapsed < 0.5
        assert "timer done" not in log


ESM_IN_JS = "export const handler = async () => 'detected';\n"


def test_nodejs22_does_not_detect_es_modules_in_js_files_unless_node_options_ask(lam: Any) -> None:
    plain = node_function(lam, {"index.js": ESM_IN_JS}, Runtime="nodejs22.x")
    _, body, _ = invoke(lam, plain)
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("SyntaxError: ")
    asked = node_function(
        lam,
        {"index.js": ESM_IN_JS},
        Runtime="nodejs22.x",
        Environment={
            "Variables": {"NODE_OPTIONS": "--experimental-detect-module --experimental-require-module"}
        },
    )
    assert invoke(lam, asked)[1] == "detected"


def test_a_handler_on_a_node_the_host_lacks_runs_on_the_hosts_and_the_log_says_so(
    lam: Any, logs: Any
) -> None:
    name = node_function(
        lam, {"index.js": "exports.handler = async () => process.versions.node;"}, Runtime="nodejs18.x"
    )
    _response, body, _ = invoke(lam, name)
    assert body.startswith("20.")
    messages = group_messages(logs, name, "not installed")
    assert "flare: node18 is not installed on this host; running on node20 instead" in messages


# ---- console ------------------------------------------------------------------------------

CONSOLE = """
console.log('loading');
exports.handler = async (event) => {
  console.log('log %s', 'formatted', { a: 1 });
  console.info('info');
  console.warn('warn');
  console.error('error', new Error('shown'));
  console.debug('debug');
  console.trace('trace');
  console.log('two\\nlines');
  return 'ok';
};
"""


def test_console_lines_have_lambdas_time_request_id_and_level(lam: Any, logs: Any) -> None:
    name = node_function(lam, {"index.js": CONSOLE})
    response, _, log = invoke(lam, name)
    rid = request_id(response)
    lines = [match.groupdict() for line in log.split("\n") if (match := LINE.match(line))]
    assert [(line["level"], line["msg"]) for line in lines if line["level"] != "ERROR"] == [
        ("INFO", "log formatted { a: 1 }"),
        ("INFO", "info"),
        ("WARN", "warn"),
        ("DEBUG", "debug"),
        ("TRACE", "trace"),
        ("INFO", "two\rlines"),
    ]
    error = next(line["msg"] for line in lines if line["level"] == "ERROR")
    assert error.startswith("error Error: shown\r    at ")  # one event: the stack's lines joined by \r
    assert {line["id"] for line in lines} == {rid}
    init = group_messages(logs, name, "loading")
    assert any(LINE.match(m) and m.endswith("\tundefined\tINFO\tloading") for m in init), init


def test_json_log_format_writes_one_record_per_call_and_honours_the_level(lam: Any) -> None:
    name = node_function(
        lam, {"index.js": CONSOLE}, LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "INFO"}
    )
    response, _, log = invoke(lam, name)
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"level"' in line]
    records = [r for r in records if r.get("type") is None]  # the platform's own records
    assert [r["level"] for r in records] == ["INFO", "INFO", "WARN", "ERROR", "INFO"]
    assert {r["requestId"] for r in records} == {request_id(response)}
    first, error = records[0], records[3]
    assert first["message"] == "log formatted { a: 1 }"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["timestamp"])
    assert error["errorType"] == "Error"
    assert error["errorMessage"] == "shown"
    assert error["stackTrace"][0] == "Error: shown"


# ---- errors -------------------------------------------------------------------------------


def test_a_thrown_error_is_reported_with_its_type_message_and_trace(lam: Any) -> None:
    source = """
class OrderError extends Error { constructor(m) { super(m); this.name = 'OrderError'; this.code = 'E42'; } }
exports.handler = async (event) => { throw new OrderError('order ' + event.id + ' is bad'); };
"""
    name = node_function(lam, {"index.js": source})
    response, body, log = invoke(lam, name, {"id": 7})
    assert response["FunctionError"] == "Unhandled"
    assert set(body) == {"errorType", "errorMessage", "trace"}
    assert (body["errorType"], body["errorMessage"]) == ("OrderError", "order 7 is bad")
    assert body["trace"][0] == "OrderError: order 7 is bad"
    assert body["trace"][1].lstrip().startswith("at ")
    line = next(line for line in log.splitlines() if "\tERROR\tInvoke Error " in line)
    logged = json.loads(line.split("\tInvoke Error \t", 1)[1])
    assert (logged["errorType"], logged["errorMessage"], logged["code"]) == (
        "OrderError",
        "order 7 is bad",
        "E42",
    )
    assert logged["stack"][0] == "OrderError: order 7 is bad"


def test_a_thrown_string_is_reported_as_its_type(lam: Any) -> None:
    name = node_function(lam, {"index.js": "exports.handler = async () => { throw 'plain words'; };"})
    _, body, _ = invoke(lam, name)
    assert body == {"errorType": "string", "errorMessage": "plain words", "trace": []}


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"index.js": "exports.handler = async () => 1;"},
            "missing.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'missing'",
        ),
        (
            {"index.js": "exports.other = async () => 1;"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is undefined or not exported",
        ),
        (
            {"index.js": "exports.handler = 42;"},
            "index.handler",
            "Runtime.HandlerNotFound",
            "index.handler is not a function",
        ),
        (
            {"index.js": "exports.handler = async ( => 1;"},
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: ",
        ),
        (
            {"index.mjs": "export const handler = async ( => 1;"},
            "index.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: ",
        ),
        (
            {"index.js": "exports.handler = async () => 1;"},
            "index",
            "Runtime.MalformedHandlerName",
            "Bad handler",
        ),
        (
            {"index.js": "exports.handler = async () => 1;"},
            "../index.handler",
            "Runtime.MalformedHandlerName",
            "'../index.handler' is not a valid handler name.",
        ),
        ({"index.js": "throw new RangeError('init broke');"}, "index.handler", "RangeError", "init broke"),
    ],
    ids=[
        "import",
        "not-exported",
        "not-a-function",
        "syntax-cjs",
        "syntax-esm",
        "malformed",
        "relative",
        "init-throws",
    ],
)
def test_init_failures_have_lambdas_error_types(
    lam: Any, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    name = node_function(lam, files, handler)
    response, body, _ = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type, body
    assert body["errorMessage"].startswith(message), body
    assert body["trace"][0].startswith(error_type if error_type.startswith("Runtime.") else f"{error_type}: ")


def test_an_unhandled_rejection_fails_the_invocation_and_the_next_gets_a_new_environment(lam: Any) -> None:
    source = """
exports.handler = async (event, context) => {
  if (event.reject) Promise.reject(new Error('nobody caught me'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  return context.logStreamName;
};
"""
    name = node_function(lam, {"index.js": source})
    _, stream_before, _ = invoke(lam, name)
    response, body, log = invoke(lam, name, {"reject": True})
    assert response["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert body["errorMessage"] == "Error: nobody caught me"
    assert "\tERROR\tUnhandled Promise Rejection \t{" in log
    response, stream_after, _ = invoke(lam, name)
    assert "FunctionError" not in response, stream_after
    assert stream_after != stream_before


# Lambda's Node client posts an uncaught exception as the invocation's error, then exits. The
# 'exit' hook holds that exit for 0.3 s, so the next invocation comes while the runtime, which
# never asks for more work, is still alive: it must run in a new environment, neither reaching
# the dying runtime nor freezing it on its way out (then it would report a Runtime.ExitError).
THROWS_LATER = """
process.on('exit', () => { const end = Date.now() + 300; while (Date.now() < end); });
exports.handler = async (event, context) => {
  if (event.throw) setImmediate(() => { throw new TypeError('thrown later'); });
  await new Promise((resolve) => setTimeout(resolve, 100));
  return context.logStreamName;
};
"""


def test_an_uncaught_exception_ends_the_runtime_and_the_next_invoke_starts_afresh(lam: Any) -> None:
    name = node_function(lam, {"index.js": THROWS_LATER})
    _, stream_before, _ = invoke(lam, name)
    _, body, _ = invoke(lam, name, {"throw": True})
    assert body["errorType"] == "TypeError"
    for _ in range(3):
        response, stream_after, _ = invoke(lam, name)
        assert "FunctionError" not in response, stream_after
    assert stream_after != stream_before


def test_a_provisioned_runtime_that_exits_after_its_error_is_not_sent_the_next_invoke(lam: Any) -> None:
    name = node_function(lam, {"index.js": THROWS_LATER})
    lam.publish_version(FunctionName=name)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    deadline = time.monotonic() + 30
    while lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")["Status"] != "READY":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    _, body, _ = invoke(lam, name, {"throw": True}, Qualifier="1")
    assert body["errorType"] == "TypeError"
    response, after, _ = invoke(lam, name, Qualifier="1")
    assert "FunctionError" not in response, after


def test_process_exit_in_a_handler_is_a_runtime_exit_error(lam: Any) -> None:
    name = node_function(lam, {"index.js": "exports.handler = async () => { process.exit(3); };"})
    response, body, _ = invoke(lam, name)
    assert body["errorType"] == "Runtime.ExitError"
    assert (
        body["errorMessage"]
        == f"RequestId: {request_id(response)} Error: Runtime exited with error: exit status 3"
    )


def test_an_async_handler_whose_promise_never_settles_is_a_node_exit_error(lam: Any) -> None:
    name = node_function(lam, {"index.js": "exports.handler = async () => new Promise(() => {});"})
    _, body, _ = invoke(lam, name)
    assert body["errorType"] == "Runtime.NodeJsExit"
    assert body["errorMessage"].startswith(
        "The Lambda runtime client detected an unexpected Node.js exit code."
    )


def test_a_sync_handler_that_never_calls_back_answers_null(lam: Any) -> None:
    name = node_function(
        lam, {"index.js": "exports.handler = (event, context, callback) => { console.log('forgot'); };"}
    )
    response, body, _ = invoke(lam, name)
    assert "FunctionError" not in response
    assert body is None


def test_nodejs24_refuses_callback_handlers_at_init(lam: Any) -> None:
    source = "exports.handler = (event, context, callback) => callback(null, 1);\n"
    name = node_function(lam, {"index.js": source}, Runtime="nodejs24.x")
    _, body, _ = invoke(lam, name)
    assert body["errorType"] == "Runtime.CallbackHandlerDeprecated"
    assert (
        "removed support for callback-based function handlers starting with Node.js 24"
        in body["errorMessage"]
    )


# ---- the AWS SDK for JavaScript v3 --------------------------------------------------------

SDK_CJS = """
const { LambdaClient, ListFunctionsCommand } = require('@aws-sdk/client-lambda');
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');
exports.handler = async (event) => {
  const listed = await new LambdaClient({}).send(new ListFunctionsCommand({}));
  await new SQSClient({}).send(new SendMessageCommand({ QueueUrl: event.queue, MessageBody: 'from node' }));
  return listed.Functions.map((f) => f.FunctionName);
};
"""

SDK_ESM = """
import { LambdaClient, GetFunctionCommand } from '@aws-sdk/client-lambda';
export const handler = async (event, context) => {
  const got = await new LambdaClient({}).send(new GetFunctionCommand({ FunctionName: context.functionName }));
  return got.Configuration.Runtime;
};
"""


def test_a_handler_calls_flare_with_the_sdk_the_runtime_provides(flare: FlareServer, lam: Any) -> None:
    attach_policy(flare.url, ROLE, ALLOW_ALL)
    sqs = flare.client("sqs")
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    name = node_function(lam, {"index.js": SDK_CJS})
    response, body, _ = invoke(lam, name, {"queue": queue})
    assert "FunctionError" not in response, body
    assert name in body
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"]
    assert [m["Body"] for m in messages] == ["from node"]


def test_an_es_module_imports_the_sdk_the_runtime_provides(lam: Any) -> None:
    name = node_function(lam, {"index.mjs": SDK_ESM})
    response, body, _ = invoke(lam, name)
    assert "FunctionError" not in response, body
    assert body == RUNTIME


# ---- layers -------------------------------------------------------------------------------


def test_packages_in_a_layers_nodejs_node_modules_load_from_commonjs_and_es_modules(lam: Any) -> None:
    package = "module.exports = (who) => `hello ${who} from a layer`;\n"
    layer = zip_files(
        {
            "nodejs/node_modules/greet/index.js": package,
            "nodejs/node_modules/greet/package.json": '{"name": "greet", "main": "index.js"}',
        }
    )
    arn = lam.publish_layer_version(LayerName=f"greet-{uuid.uuid4().hex[:8]}", Content={"ZipFile": layer})[
        "LayerVersionArn"
    ]
    cjs = node_function(
        lam,
        {"index.js": "const greet = require('greet');\nexports.handler = async () => greet('cjs');\n"},
        Layers=[arn],
    )
    esm = node_function(
        lam,
        {"index.mjs": "import greet from 'greet';\nexport const handler = async () => greet('esm');\n"},
        Layers=[arn],
    )
    assert invoke(lam, cjs)[1] == "hello cjs from a layer"
    assert invoke(lam, esm)[1] == "hello esm from a layer"


# ---- AWS_LAMBDA_EXEC_WRAPPER --------------------------------------------------------------

WRAPPER = '#!/bin/sh\nexport WRAPPED_BY="$0"\nexec "$@" \n'
SHOW_START = (
    "exports.handler = async () =>\n"
    "  ({ by: process.env.WRAPPED_BY, argv0: process.argv[0], n: process.execArgv });\n"
)


def test_a_wrapper_script_starts_node_with_the_runtimes_command_line(lam: Any) -> None:
    files: dict[str, str | bytes] = {"index.js": SHOW_START, "wrap.sh": WRAPPER}
    name = f"node-{uuid.uuid4().hex[:8]}"
    variables = {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrap.sh"}
    create_function(
        lam,
        name,
        zip_files(files, {"wrap.sh": 0o755}),
        handler="index.handler",
        runtime=RUNTIME,
        Environment={"Variables": variables},
    )
    response, body, _ = invoke(lam, name)
    assert "FunctionError" not in response, body
    assert body["by"] == "/var/task/wrap.sh"
    assert body["argv0"] == "/var/lang/bin/node"
    assert "--expose-gc" in body["n"]


def test_a_missing_wrapper_fails_init_as_lambdas_bootstrap_does(lam: Any, logs: Any) -> None:
    variables = {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/nowhere.sh"}
    name = node_function(lam, {"index.js": SHOW_START}, Environment={"Variables": variables})
    _response, body, _ = invoke(lam, name)
    assert body["errorType"] == "Runtime.ExitError"
    assert "exit status 127" in body["errorMessage"]
    assert "/opt/nowhere.sh: does not exist" in group_messages(logs, name, "does not exist")
