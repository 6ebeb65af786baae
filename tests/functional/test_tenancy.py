"""Tenant isolation mode through boto3 against a real ``flare serve``.

A function created with ``TenancyConfig: {TenantIsolationMode: PER_TENANT}`` shows it in every
configuration answer, keeps it in published versions and never loses it; every invoke names a
tenant (``X-Amz-Tenant-Id``) and lands in an environment of that tenant only; the tenant
reaches the handler (``context.tenant_id``), ``provided.*`` runtimes (the Runtime API's
``Lambda-Runtime-Aws-Tenant-Id``) and awslambdaric's JSON log records; the features Lambda does
not combine with the mode are refused.

The handlers tell environments apart by a token made at INIT (every environment's runtime is
pid 2 of its own pid namespace, so a pid would not do) and count the calls each has served.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FLARE, FlareServer, create_function, python_function, zip_files
from tests.functional.conftest import ric_zip
from tests.signing import signed_headers

PER_TENANT = {"TenantIsolationMode": "PER_TENANT"}

TENANT_APP = """
import time, uuid
TOKEN = uuid.uuid4().hex
CALLS = 0
TENANTS = []

def handler(event, context):
    global CALLS
    CALLS += 1
    TENANTS.append(context.tenant_id)
    time.sleep(event.get("sleep", 0))
    return {
        "tenant": context.tenant_id,
        "token": TOKEN,
        "calls": CALLS,
        "tenants_served": sorted(set(TENANTS)),
        "mark": event.get("mark"),
    }
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def isolated_function(lam: Any, prefix: str = "tenant", **config: Any) -> str:
    name = unique(prefix)
    create_function(lam, name, python_function(TENANT_APP), TenancyConfig=PER_TENANT, **config)
    return name


def invoke(lam: Any, name: str, tenant: str | None, event: Any = None, **extra: Any) -> Any:
    if tenant is not None:
        extra["TenantId"] = tenant
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode(), **extra)
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def error_of(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def raw(
    flare: FlareServer, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, Any, str | None]:
    host, port = flare.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request(
            method, path, body=body, headers=signed_headers(method, flare.url + path, body, headers)
        )
        reply = connection.getresponse()
        data = reply.read()
        return reply.status, (json.loads(data) if data else None), reply.getheader("x-amzn-ErrorType")
    finally:
        connection.close()


# ---- configuration ------------------------------------------------------------------------------


def test_tenancy_config_is_shown_by_every_configuration_answer_and_kept_by_versions(lam: Any) -> None:
    name = unique("shown")
    created = create_function(lam, name, python_function(TENANT_APP), TenancyConfig=PER_TENANT)
    assert created["TenancyConfig"] == PER_TENANT
    assert lam.get_function(FunctionName=name)["Configuration"]["TenancyConfig"] == PER_TENANT
    assert lam.get_function_configuration(FunctionName=name)["TenancyConfig"] == PER_TENANT
    listed = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == name]
    assert listed[0]["TenancyConfig"] == PER_TENANT
    # Fields in the model's order, as AWS writes them: TenancyConfig right after LoggingConfig.
    keys = list(lam.get_function_configuration(FunctionName=name))
    assert keys.index("TenancyConfig") == keys.index("LoggingConfig") + 1

    updated = lam.update_function_configuration(FunctionName=name, Timeout=9)
    assert updated["TenancyConfig"] == PER_TENANT
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    published = lam.publish_version(FunctionName=name)
    assert published["TenancyConfig"] == PER_TENANT
    version = lam.get_function_configuration(FunctionName=name, Qualifier=published["Version"])
    assert version["TenancyConfig"] == PER_TENANT
    assert invoke(lam, name, "blue", Qualifier=published["Version"])["tenant"] == "blue"

    plain = unique("plain")
    assert "TenancyConfig" not in create_function(lam, plain, python_function(TENANT_APP))
    assert "TenancyConfig" not in lam.get_function_configuration(FunctionName=plain)


def test_tenancy_config_cannot_be_changed_after_creation(lam: Any, flare: FlareServer) -> None:
    plain = unique("plain")
    create_function(lam, plain, python_function(TENANT_APP))
    isolated = isolated_function(lam)
    body = json.dumps({"TenancyConfig": PER_TENANT}).encode()
    status, answer, code = raw(flare, "PUT", f"/2015-03-31/functions/{plain}/configuration", body)
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "cannot be changed" in answer["message"]
    assert "TenancyConfig" not in lam.get_function_configuration(FunctionName=plain)
    for odd in ({"TenancyConfig": "PER_TENANT"}, {"TenancyConfig": {"Mode": 1}}):
        path = f"/2015-03-31/functions/{isolated}/configuration"
        status, _, code = raw(flare, "PUT", path, json.dumps(odd).encode())
        assert (status, code) == (400, "InvalidParameterValueException")
    # An update that leaves it out (boto3's only kind: the model has no such member) keeps it.
    lam.update_function_configuration(FunctionName=isolated, MemorySize=256)
    assert lam.get_function_configuration(FunctionName=isolated)["TenancyConfig"] == PER_TENANT


# ---- invoke -------------------------------------------------------------------------------------


def test_two_tenants_never_share_an_environment(lam: Any) -> None:
    name = isolated_function(lam)
    answers = [invoke(lam, name, tenant) for tenant in ("blue", "green", "blue", "green", "blue")]
    blue = [answer for answer in answers if answer["tenant"] == "blue"]
    green = [answer for answer in answers if answer["tenant"] == "green"]
    # Each tenant keeps its own warm environment: one token, its calls counted alone.
    assert [answer["calls"] for answer in blue] == [1, 2, 3]
    assert [answer["calls"] for answer in green] == [1, 2]
    assert len({answer["token"] for answer in blue}) == 1
    assert len({answer["token"] for answer in green}) == 1
    assert blue[0]["token"] != green[0]["token"]
    assert all(answer["tenants_served"] == [answer["tenant"]] for answer in answers)


def test_concurrent_tenants_each_get_environments_of_their_own(lam: Any) -> None:
    name = isolated_function(lam)
    tenants = ["red", "teal", "gold"] * 3
    with ThreadPoolExecutor(len(tenants)) as pool:
        answers = list(pool.map(lambda tenant: invoke(lam, name, tenant, {"sleep": 0.3}), tenants))
    for answer in answers:
        assert answer["tenants_served"] == [answer["tenant"]]
    tokens = {tenant: {a["token"] for a in answers if a["tenant"] == tenant} for tenant in set(tenants)}
    everyone = [token for found in tokens.values() for token in found]
    assert len(everyone) == len(set(everyone))  # no environment served two tenants
    # Afterwards each tenant is served warm by one of its own environments.
    for tenant in set(tenants):
        assert invoke(lam, name, tenant)["token"] in tokens[tenant]


def test_invoke_without_a_tenant_id_is_refused(lam: Any) -> None:
    name = isolated_function(lam)
    for invocation_type in ("RequestResponse", "Event", "DryRun"):
        status, code, message = error_of(
            lambda kind=invocation_type: lam.invoke(FunctionName=name, InvocationType=kind, Payload=b"{}")
        )
        assert (status, code) == (400, "InvalidParameterValueException")
        assert "tenant ID" in message
    assert lam.invoke(FunctionName=name, InvocationType="DryRun", TenantId="blue")["StatusCode"] == 204


def test_a_tenant_id_for_a_function_without_isolation_is_refused(lam: Any) -> None:
    name = unique("plain")
    create_function(lam, name, python_function(TENANT_APP))
    status, code, message = error_of(lambda: lam.invoke(FunctionName=name, TenantId="blue", Payload=b"{}"))
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "tenant isolation mode is not enabled" in message
    assert invoke(lam, name, None)["tenant"] is None


@pytest.mark.parametrize("tenant", ["blue!", "x" * 257, ""])
def test_a_malformed_tenant_id_is_a_validation_error(flare: FlareServer, lam: Any, tenant: str) -> None:
    name = isolated_function(lam)
    path = f"/2015-03-31/functions/{name}/invocations"
    status, answer, code = raw(flare, "POST", path, b"{}", **{"X-Amz-Tenant-Id": tenant})
    assert (status, code) == (400, "ValidationException")
    assert re.match(r"\d validation errors? detected: Value '", answer["message"])
    assert "at 'tenantId' failed to satisfy constraint" in answer["message"]


def test_event_invoke_runs_in_the_environment_of_its_tenant(flare: FlareServer, lam: Any) -> None:
    sqs = flare.client("sqs")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = isolated_function(lam, "async")
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    response = lam.invoke(
        FunctionName=name, InvocationType="Event", TenantId="blue", Payload=b'{"mark": "async"}'
    )
    assert response["StatusCode"] == 202
    deadline = time.monotonic() + 15
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    assert messages, "the event never ran"
    ran = json.loads(messages[0]["Body"])["responsePayload"]
    assert (ran["tenant"], ran["mark"], ran["calls"]) == ("blue", "async", 1)
    # The tenant's next invoke is served warm by the environment the event ran in.
    after = invoke(lam, name, "blue")
    assert (after["token"], after["calls"]) == (ran["token"], 2)
    assert invoke(lam, name, "green")["token"] != ran["token"]


def test_tenant_environments_are_limited_by_the_function_concurrency(lam: Any) -> None:
    name = isolated_function(lam, "limit")
    # Reserved concurrency 1: at most 2 tenant environments (2,500 for every 1,000).
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    first, second = invoke(lam, name, "one"), invoke(lam, name, "two")
    status, code, _ = error_of(lambda: lam.invoke(FunctionName=name, TenantId="three", Payload=b"{}"))
    assert (status, code) == (429, "TooManyRequestsException")
    # Tenants that have an environment are still served, warm.
    assert invoke(lam, name, "one")["token"] == first["token"]
    assert invoke(lam, name, "two")["token"] == second["token"]


# ---- the tenant in runtimes that are not Flare's ---------------------------------------------

HEADERS_BOOTSTRAP = r"""#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEAD="$(curl -sS -D - -o /dev/null "$API/invocation/next")" || exit 1
  ID="$(printf '%s' "$HEAD" | tr -d '\r' | grep -i '^lambda-runtime-aws-request-id:' \
    | cut -d: -f2- | tr -d ' ')"
  curl -sS -o /dev/null -X POST --data-binary "\"$(printf '%s' "$HEAD" | base64 -w0)\"" \
    "$API/invocation/$ID/response" || exit 1
done
"""


def next_headers(lam: Any, name: str, tenant: str | None) -> dict[str, str]:
    head = base64.b64decode(invoke(lam, name, tenant)).decode()
    lines = head.replace("\r\n", "\n").strip().split("\n")[1:]
    return {key.strip().lower(): value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_provided_runtime_reads_the_tenant_from_the_next_event_headers(lam: Any) -> None:
    name = unique("bash")
    code = zip_files({"bootstrap": HEADERS_BOOTSTRAP}, {"bootstrap": 0o755})
    create_function(lam, name, code, handler="unused", runtime="provided.al2023", TenancyConfig=PER_TENANT)
    assert next_headers(lam, name, "blue")["lambda-runtime-aws-tenant-id"] == "blue"
    assert next_headers(lam, name, "tenant:with/odd=chars@ +-.")["lambda-runtime-aws-tenant-id"] == (
        "tenant:with/odd=chars@ +-."
    )
    plain = unique("bash-plain")
    create_function(lam, plain, code, handler="unused", runtime="provided.al2023")
    assert "lambda-runtime-aws-tenant-id" not in next_headers(lam, plain, None)


RIC_APP = """\
import logging
def handler(event, context):
    logging.getLogger().info("handling for %s", context.tenant_id)
    return {"tenant": context.tenant_id}
"""


def test_awslambdaric_sees_the_tenant_in_context_and_json_logs(
    lam: Any, ric_tree: Path, ric_interpreter: Path
) -> None:
    name = unique("ric")
    create_function(
        lam,
        name,
        ric_zip(ric_tree, ric_interpreter, RIC_APP),
        runtime="provided.al2023",
        TenancyConfig=PER_TENANT,
        Environment={"Variables": {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"}},
    )
    response = lam.invoke(FunctionName=name, TenantId="blue", Payload=b"{}", LogType="Tail")
    assert json.loads(response["Payload"].read()) == {"tenant": "blue"}
    log = base64.b64decode(response["LogResult"]).decode()
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    handled = [record for record in records if record.get("message") == "handling for blue"]
    assert handled and handled[0]["tenantId"] == "blue", log


# ---- what tenant isolation cannot be combined with --------------------------------------------


def test_snap_start_is_refused_at_create_and_update(lam: Any) -> None:
    snap = {"ApplyOn": "PublishedVersions"}
    status, code, message = error_of(
        lambda: create_function(
            lam,
            unique("snap"),
            python_function(TENANT_APP),
            runtime="python3.12",
            TenancyConfig=PER_TENANT,
            SnapStart=snap,
        )
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "SnapStart" in message
    name = isolated_function(lam, runtime="python3.12")
    status, code, message = error_of(
        lambda: lam.update_function_configuration(FunctionName=name, SnapStart=snap)
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "SnapStart" in message
    assert lam.get_function_configuration(FunctionName=name)["SnapStart"]["ApplyOn"] == "None"


def test_provisioned_concurrency_is_refused(lam: Any) -> None:
    name = isolated_function(lam)
    version = lam.publish_version(FunctionName=name)["Version"]
    status, code, message = error_of(
        lambda: lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1
        )
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "Provisioned Concurrency" in message
    assert lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"] == []


def test_event_source_mappings_are_refused(lam: Any, flare: FlareServer) -> None:
    sqs = flare.client("sqs")
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = isolated_function(lam)
    status, code, message = error_of(
        lambda: lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert "Event source mappings" in message
    plain = unique("plain")
    create_function(lam, plain, python_function(TENANT_APP))
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=plain, Enabled=False)
    status, code, _ = error_of(
        lambda: lam.update_event_source_mapping(UUID=mapping["UUID"], FunctionName=name)
    )
    assert (status, code) == (400, "InvalidParameterValueException")
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["FunctionArn"].endswith(f":{plain}")


def test_keep_warm_schedules_are_refused(flare: FlareServer, lam: Any) -> None:
    name = isolated_function(lam)
    command = [str(FLARE), "schedule", "add", name, "--rate", "5 minutes", "--endpoint-url", flare.url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("error: InvalidParameterValueException: Keep-warm schedules")


def test_flare_invoke_passes_the_tenant_id(flare: FlareServer, lam: Any) -> None:
    name = isolated_function(lam)
    command = [str(FLARE), "invoke", name, "--tenant-id", "blue", "--quiet", "--endpoint-url", flare.url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tenant"] == "blue"
    refused = subprocess.run(command[:3] + command[5:], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1
    assert "InvalidParameterValueException" in refused.stderr


def test_a_function_url_is_refused_for_a_tenant_isolated_function(lam: Any) -> None:
    name = isolated_function(lam)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName=name)


def test_a_streamed_invoke_runs_on_its_tenants_environment(lam: Any) -> None:
    name = isolated_function(lam)
    first = invoke(lam, name, "blue")
    streamed = lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}", TenantId="blue")
    chunks = b"".join(
        event["PayloadChunk"]["Payload"] for event in streamed["EventStream"] if "PayloadChunk" in event
    )
    answer = json.loads(chunks)
    assert (answer["tenant"], answer["token"], answer["calls"]) == ("blue", first["token"], 2)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.invoke_with_response_stream(FunctionName=name, Payload=b"{}")


def test_json_platform_records_name_the_tenant(flare: FlareServer, lam: Any) -> None:
    name = isolated_function(lam, LoggingConfig={"LogFormat": "JSON"})
    invoke(lam, name, "blue")
    logs = flare.client("logs")
    deadline = time.monotonic() + 10
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not any(r.get("type") == "platform.report" for r in records):
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        records = [json.loads(e["message"]) for e in events if e["message"].startswith("{")]
        time.sleep(0.1)
    platform = {r["type"]: r["record"] for r in records if str(r.get("type", "")).startswith("platform.")}
    assert platform["platform.start"]["tenantId"] == "blue"
    assert platform["platform.report"]["tenantId"] == "blue"
