"""The fuzzer: every operation of the Lambda model and of the embedded SQS, Kinesis and Logs
services, well-formed and then broken, against a real ``flare serve`` (issue 13, point 5).

Each request is signed over exactly the bytes sent (a share with a broken signature). After each
one: the answer has the properties of ``properties.py`` and the engine is still running. At the
end, what was stored before the fuzzer ran is all still there and works, and nothing was written
beside the data dir.
"""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import FlareServer, create_function, python_function, wait_ready
from tests.fuzz.conftest import Fuzzed, fuzz_settings
from tests.fuzz.model_requests import bad_zips, mutated, operation_names, well_formed
from tests.fuzz.properties import checked_answer, problems
from tests.fuzz.raw_http import BROKEN_SIGNATURES, RawRequest, exchange, signed_bytes

JSON_SERVICES = ("sqs", "kinesis", "logs")
SIGNATURES = st.one_of(
    st.just("valid"), st.just("valid"), st.just("valid"), st.sampled_from(sorted(BROKEN_SIGNATURES))
)


def _requests(services: tuple[str, ...]) -> st.SearchStrategy[RawRequest]:
    return st.sampled_from(
        [(service, name) for service in services for name in operation_names(service)]
    ).flatmap(lambda pair: well_formed(*pair))


def send_and_check(server: FlareServer, request: RawRequest, signature: str = "valid") -> None:
    checked_answer(server, request, signed_bytes(server.url, request, signature))


@fuzz_settings(ci_examples=600)
@given(request=mutated(_requests(("lambda",))), signature=SIGNATURES)
def test_lambda_operations(fuzzed: Fuzzed, request: RawRequest, signature: str) -> None:
    send_and_check(fuzzed.server, request, signature)


@fuzz_settings(ci_examples=600)
@given(request=mutated(_requests(JSON_SERVICES)), signature=SIGNATURES)
def test_json_services(fuzzed: Fuzzed, request: RawRequest, signature: str) -> None:
    send_and_check(fuzzed.server, request, signature)


def _zip_requests(kind: str, data: bytes) -> list[RawRequest]:
    encoded = base64.b64encode(data).decode()
    create = {
        "FunctionName": f"fuzz-zip-{kind}",
        "Runtime": "python3.11",
        "Role": "arn:aws:iam::000000000000:role/fuzz",
        "Handler": "app.handler",
        "Code": {"ZipFile": encoded},
    }
    json_type = (("Content-Type", "application/json"),)
    return [
        RawRequest("POST", "/2015-03-31/functions", json_type, json.dumps(create).encode()),
        RawRequest(
            "PUT",
            f"/2015-03-31/functions/{ZIP_TARGET}/code",
            json_type,
            json.dumps({"ZipFile": encoded}).encode(),
        ),
        RawRequest(
            "POST",
            "/2018-10-31/layers/fuzz-zip-layer/versions",
            json_type,
            json.dumps({"Content": {"ZipFile": encoded}}).encode(),
        ),
    ]


ZIP_TARGET = "fuzz-zip-target"
ZIP_TARGET_SOURCE = "def handler(event, context):\n    return 1\n"
REFUSED_ZIPS = {
    "bomb",
    "symlink-out",
    "symlink-up",
    "symlink-then-write",
    "dotdot",
    "absolute",
    "backslash",
    "drive",
    "truncated",
    "no-central-directory",
    "not-a-zip",
    "empty",
}
"""Archives refused at upload (4xx). The others may be stored (Lambda limits neither entry
counts nor duplicates); a function made of one must then fail, if at all, in AWS's shape."""


def test_bad_zips(fuzzed: Fuzzed) -> None:
    """Every hostile archive, to each operation that takes code: refused in AWS's shape, or
    stored and invoked without a 500 or harm to the engine."""
    server = fuzzed.server
    create_function(server.client(), ZIP_TARGET, python_function(ZIP_TARGET_SOURCE))
    for kind, data in bad_zips().items():
        for request in _zip_requests(kind, data):
            reply = exchange(server.url, signed_bytes(server.url, request))
            assert server.process.poll() is None, f"the engine died on the {kind} zip"
            found = problems(request, reply)
            assert not found, f"{kind}: {found}: {reply.status} {reply.body[:300]!r}"
            refused = reply.status >= 400 or kind not in REFUSED_ZIPS
            assert refused, f"{kind} zip accepted: {reply.body[:200]!r}"
        if kind not in REFUSED_ZIPS:
            invoke = RawRequest("POST", f"/2015-03-31/functions/fuzz-zip-{kind}/invocations", (), b"{}")
            send_and_check(server, invoke)
    outside = [path for path in server.data_dir.parent.rglob("escape*")]
    assert not outside, f"a zip wrote outside its tree: {outside}"


def test_stored_state_survives(fuzzed: Fuzzed) -> None:
    """What was stored before the fuzzer ran is whole and works, now and after a restart."""
    server, seeded = fuzzed.server, fuzzed.seeded
    for restart in (False, True):
        if restart:
            server.restart()
            wait_ready(server.process, server.url)
        lam = server.client()
        for name, created in seeded.functions.items():
            found = lam.get_function(FunctionName=name)["Configuration"]
            assert found["FunctionArn"] == created["FunctionArn"]
            assert found["CodeSha256"] == created["CodeSha256"]
            answer = lam.invoke(FunctionName=name, Payload=b'{"n": 1}')
            assert json.loads(answer["Payload"].read()) == {"kept": {"n": 1}}
        assert lam.get_layer_version_by_arn(Arn=seeded.layer_arn)["LayerVersionArn"] == seeded.layer_arn
        sqs = server.client("sqs")
        assert sqs.get_queue_url(QueueName="fuzz-kept-queue-3a8d")["QueueUrl"] == seeded.queue_url
        summary = server.client("kinesis").describe_stream_summary(StreamName=seeded.stream)
        assert summary["StreamDescriptionSummary"]["StreamName"] == seeded.stream
        groups = server.client("logs").describe_log_groups(logGroupNamePrefix=seeded.log_group)["logGroups"]
        assert [group["logGroupName"] for group in groups] == [seeded.log_group]
    outside = sorted(path.name for path in server.data_dir.parent.iterdir())
    assert outside == ["data"], f"written beside the data dir: {outside}"
