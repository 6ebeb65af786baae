"""One registry on Redis, seen by every node: ``flare serve --cluster`` nodes on 127.0.0.1
sharing one ``redis-server``, driven through boto3 against different nodes."""

from __future__ import annotations

import functools
import hashlib
import http.client
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from botocore.config import Config
from botocore.exceptions import ClientError

from flare.cluster.link import ClusterLink
from flare.cluster.redis_blobs import blob_key
from flare.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from flare.scope import Scope
from tests.cluster_functions import eventually
from tests.conftest import FLARE, FlareServer, create_function, launch, python_function, zip_files
from tests.redis_server import RedisServer, available
from tests.roles import attach_policy
from tests.signing import signed_urlopen

pytestmark = pytest.mark.skipif(
    not available(), reason="redis-server is not installed (make install, as root)"
)

OUTSIDER = "210987654321"
SIGNING_PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/test"
SAYS = "def handler(event, context):\n    return {{'says': {word!r}}}\n"


def says(word: str) -> bytes:
    return python_function(SAYS.format(word=word))


def node(directory: Path, redis_server: RedisServer, name: str, *extra: str) -> FlareServer:
    return launch(directory / name, "--cluster", redis_server.url, "--node-name", name, *extra)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[list[FlareServer]]:
    directory = tmp_path_factory.mktemp("nodes")
    started = [node(directory, redis_server, name) for name in ("a", "b")]
    yield started
    for server in started:
        server.stop()


def invoke(client: Any, name: str) -> dict[str, Any]:
    reply = client.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in reply, reply["Payload"].read()
    result: dict[str, Any] = json.loads(reply["Payload"].read())
    return result


def error_of(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_a_function_created_on_one_node_is_read_and_invoked_on_another(nodes: list[FlareServer]) -> None:
    a, b = (server.client() for server in nodes)
    created = create_function(a, "made-on-a", says("hello"))
    seen = eventually(lambda: b.get_function(FunctionName="made-on-a"))
    assert seen["Configuration"]["CodeSha256"] == created["CodeSha256"]
    assert (
        seen["Configuration"]["RevisionId"]
        == a.get_function(FunctionName="made-on-a")["Configuration"]["RevisionId"]
    )
    assert invoke(b, "made-on-a") == {"says": "hello"}
    assert "made-on-a" in [f["FunctionName"] for f in b.list_functions()["Functions"]]


def test_code_updated_on_one_node_runs_at_the_next_invoke_on_another(nodes: list[FlareServer]) -> None:
    a, b = (server.client() for server in nodes)
    create_function(a, "updated-on-a", says("old"))
    assert eventually(lambda: invoke(b, "updated-on-a")) == {"says": "old"}  # b has a warm environment
    new = a.update_function_code(FunctionName="updated-on-a", ZipFile=says("new"))
    eventually(
        lambda: assertion(
            b.get_function_configuration(FunctionName="updated-on-a")["CodeSha256"] == new["CodeSha256"]
        )
    )
    assert invoke(b, "updated-on-a") == {"says": "new"}


def test_versions_and_aliases_made_on_one_node_resolve_on_another(nodes: list[FlareServer]) -> None:
    a, b = (server.client() for server in nodes)
    create_function(a, "published-on-a", says("one"))
    a.get_waiter("function_active_v2").wait(FunctionName="published-on-a")
    assert a.publish_version(FunctionName="published-on-a")["Version"] == "1"
    a.create_alias(FunctionName="published-on-a", Name="live", FunctionVersion="1")
    a.update_function_code(FunctionName="published-on-a", ZipFile=says("two"))
    a.get_waiter("function_updated_v2").wait(FunctionName="published-on-a")
    eventually(lambda: b.get_alias(FunctionName="published-on-a", Name="live"))
    assert b.publish_version(FunctionName="published-on-a")["Version"] == "2"  # b counts on from a's 1
    assert invoke(b, "published-on-a:live") == {"says": "one"}
    assert eventually(lambda: invoke(a, "published-on-a:2")) == {"says": "two"}
    versions = [v["Version"] for v in a.list_versions_by_function(FunctionName="published-on-a")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]


def race(clients: list[Any], name: str, revision: str, round_: int) -> list[str]:
    """Each client updates ``name`` with ``revision`` at the same moment; what each got."""
    outcomes: list[str] = []
    start = threading.Barrier(len(clients))

    def update(client: Any, description: str) -> None:
        start.wait()
        try:
            client.update_function_configuration(
                FunctionName=name, Description=description, RevisionId=revision
            )
            outcomes.append("won")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [
        threading.Thread(target=update, args=(client, f"round {round_} by {i}"))
        for i, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_of_two_updates_with_one_revision_id_on_two_nodes_exactly_one_wins(nodes: list[FlareServer]) -> None:
    clients = [server.client() for server in nodes]
    create_function(clients[0], "contested", says("x"))
    for round_ in range(8):
        revision = eventually(lambda: clients[0].get_function_configuration(FunctionName="contested"))[
            "RevisionId"
        ]
        for client in clients:  # every node knows the revision, and the function settled, before the race
            eventually(functools.partial(settled, client, "contested", revision))
        outcomes = race(clients, "contested", revision, round_)
        assert sorted(outcomes) == ["PreconditionFailedException", "won"], (round_, outcomes)


def test_a_function_deleted_on_one_node_is_not_found_on_another(nodes: list[FlareServer]) -> None:
    a, b = (server.client() for server in nodes)
    create_function(a, "deleted-on-a", says("bye"))
    assert eventually(lambda: invoke(b, "deleted-on-a")) == {"says": "bye"}
    a.delete_function(FunctionName="deleted-on-a")
    eventually(
        lambda: assertion(
            error_of(lambda: b.get_function(FunctionName="deleted-on-a"))
            == (404, "ResourceNotFoundException")
        )
    )
    assert error_of(lambda: b.invoke(FunctionName="deleted-on-a", Payload=b"{}")) == (
        404,
        "ResourceNotFoundException",
    )


def test_a_permission_added_on_one_node_lets_another_account_invoke_through_another(
    nodes: list[FlareServer],
) -> None:
    a, b = (server.client() for server in nodes)
    outsider = nodes[1].client(key=OUTSIDER)
    arn = create_function(a, "granted-on-a", says("granted"))["FunctionArn"]
    eventually(lambda: b.get_function(FunctionName="granted-on-a"))
    assert error_of(lambda: outsider.invoke(FunctionName=arn, Payload=b"{}")) == (
        403,
        "AccessDeniedException",
    )
    a.add_permission(
        FunctionName="granted-on-a",
        StatementId="outsider",
        Action="lambda:InvokeFunction",
        Principal=OUTSIDER,
    )
    assert eventually(lambda: invoke(outsider, arn)) == {"says": "granted"}
    a.remove_permission(FunctionName="granted-on-a", StatementId="outsider")
    eventually(
        lambda: assertion(
            error_of(lambda: outsider.invoke(FunctionName=arn, Payload=b"{}"))
            == (403, "AccessDeniedException")
        )
    )


def test_permissions_added_at_once_on_two_nodes_both_land(nodes: list[FlareServer]) -> None:
    clients = [server.client() for server in nodes]
    create_function(clients[0], "two-grants", says("x"))
    eventually(lambda: clients[1].get_function(FunctionName="two-grants"))
    for round_ in range(5):
        start = threading.Barrier(2)

        def grant(client: Any, sid: str, start: threading.Barrier = start) -> None:
            start.wait()
            client.add_permission(
                FunctionName="two-grants",
                StatementId=sid,
                Action="lambda:InvokeFunction",
                Principal="s3.amazonaws.com",
            )

        threads = [
            threading.Thread(target=grant, args=(client, f"r{round_}-n{i}"))
            for i, client in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    wanted = {f"r{r}-n{i}" for r in range(5) for i in range(2)}
    for client in clients:
        eventually(functools.partial(has_sids, client, "two-grants", wanted))
    clients[0].delete_function(FunctionName="two-grants")
    eventually(
        lambda: assertion(error_of(lambda: clients[1].get_policy(FunctionName="two-grants"))[0] == 404)
    )


def has_sids(client: Any, name: str, wanted: set[str]) -> None:
    statements = json.loads(client.get_policy(FunctionName=name)["Policy"])["Statement"]
    assert {statement["Sid"] for statement in statements} == wanted


def test_a_layer_published_on_one_node_serves_a_function_made_on_another(nodes: list[FlareServer]) -> None:
    a, b = (server.client() for server in nodes)
    content = zip_files({"python/shared_greeting.py": "WORD = 'from a layer published on a'\n"})
    layer = a.publish_layer_version(LayerName="shared-layer", Content={"ZipFile": content})
    assert b.publish_layer_version(LayerName="shared-layer", Content={"ZipFile": content})["Version"] == (
        layer["Version"] + 1  # numbers are the cluster's: b counts on from a's
    )
    reader = (
        "import shared_greeting\ndef handler(event, context):\n    return {'says': shared_greeting.WORD}\n"
    )
    create_function(b, "layered-on-b", python_function(reader), Layers=[layer["LayerVersionArn"]])
    assert invoke(b, "layered-on-b") == {"says": "from a layer published on a"}
    assert eventually(lambda: invoke(a, "layered-on-b")) == {"says": "from a layer published on a"}
    listed = [v["Version"] for v in a.list_layer_versions(LayerName="shared-layer")["LayerVersions"]]
    assert listed == [layer["Version"] + 1, layer["Version"]]
    b.delete_layer_version(LayerName="shared-layer", VersionNumber=layer["Version"] + 1)
    assert error_of(
        lambda: a.get_layer_version(LayerName="shared-layer", VersionNumber=layer["Version"] + 1)
    ) == (
        404,
        "ResourceNotFoundException",
    )


def url_request(server: FlareServer, host: str) -> tuple[int, bytes]:
    """GET / of the function URL whose host is ``host``, sent to ``server``."""
    connection = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=30)
    try:
        connection.request("GET", "/", headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_url_a_recursion_config_and_code_signing_made_on_one_node_hold_on_another(
    nodes: list[FlareServer],
) -> None:
    a, b = (server.client() for server in nodes)
    create_function(a, "resources-on-a", says("through a url"))
    url = a.create_function_url_config(FunctionName="resources-on-a", AuthType="NONE")["FunctionUrl"]
    host = url.removeprefix("http://").split(":")[0]
    eventually(lambda: assertion(url_request(nodes[1], host) == (200, b'{"says": "through a url"}')))
    a.put_function_recursion_config(FunctionName="resources-on-a", RecursiveLoop="Allow")
    eventually(
        lambda: assertion(
            b.get_function_recursion_config(FunctionName="resources-on-a")["RecursiveLoop"] == "Allow"
        )
    )
    config = a.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [SIGNING_PROFILE]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )["CodeSigningConfig"]
    a.put_function_code_signing_config(
        CodeSigningConfigArn=config["CodeSigningConfigArn"], FunctionName="resources-on-a"
    )
    eventually(
        lambda: assertion(
            error_of(lambda: b.update_function_code(FunctionName="resources-on-a", ZipFile=says("unsigned")))
            == (400, "CodeVerificationFailedException")
        )
    )
    a.delete_function(FunctionName="resources-on-a")
    eventually(lambda: assertion(url_request(nodes[1], host)[0] == 403))  # as for a URL never made
    arn = config["CodeSigningConfigArn"]
    eventually(
        lambda: assertion(
            b.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == []
        )
    )


LISTER = """
import boto3
def handler(event, context):
    try:
        boto3.client("lambda").list_functions()
        return {"listed": True}
    except Exception as error:
        return {"listed": False, "code": error.response["Error"]["Code"]}
"""


def test_a_role_policy_attached_through_one_node_authorizes_a_function_on_another(
    nodes: list[FlareServer],
) -> None:
    a, b = (server.client() for server in nodes)
    role = "arn:aws:iam::000000000000:role/cluster-lister"
    create_function(a, "lister", python_function(LISTER), Role=role)
    # b compiles the role's (default) policies: no control plane
    assert eventually(lambda: invoke(b, "lister")) == {"listed": False, "code": "AccessDeniedException"}
    listing = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "lambda:List*", "Resource": "*"},
    }
    attach_policy(nodes[0].url, role, listing)
    assert eventually(lambda: invoke(b, "lister")) == {"listed": True}


def test_a_code_location_signed_by_one_node_downloads_from_another(nodes: list[FlareServer]) -> None:
    a = nodes[0].client()
    create_function(a, "located-on-a", says("download me"))
    location = a.get_function(FunctionName="located-on-a")["Code"]["Location"]
    assert location.startswith(nodes[0].url)
    with urllib.request.urlopen(nodes[1].url + location.removeprefix(nodes[0].url), timeout=30) as response:
        assert response.read() == says("download me")


def test_a_node_whose_subscription_dropped_reads_back_what_it_missed(
    nodes: list[FlareServer], redis_server: RedisServer
) -> None:
    a, b = (server.client() for server in nodes)
    create_function(a, "missed-by-b", says("x"))
    eventually(lambda: b.get_function(FunctionName="missed-by-b"))
    shared = redis.Redis.from_url(redis_server.url)
    key = "flare:{000000000000:us-east-1}:function:missed-by-b"
    seq, record = json.loads(shared.hget(key, "$LATEST") or b"")
    record["config"].update(Description="changed while no one listened", RevisionId="r-missed")
    shared.hset(key, "$LATEST", json.dumps([seq, record]))  # a change whose notice was lost
    assert b.get_function_configuration(FunctionName="missed-by-b").get("Description", "") == ""
    assert shared.client_kill_filter(_type="pubsub") >= 2  # every node's subscription drops
    shared.close()
    eventually(
        lambda: assertion(
            b.get_function_configuration(FunctionName="missed-by-b")["RevisionId"] == "r-missed"
        )
    )
    assert b.get_function_configuration(FunctionName="missed-by-b")["Description"] == (
        "changed while no one listened"
    )


def test_an_event_invoke_config_put_on_one_node_is_read_on_another_and_goes_with_its_function(
    nodes: list[FlareServer],
) -> None:
    a, b = (server.client() for server in nodes)
    create_function(a, "configured-on-a", says("x"))
    eventually(lambda: b.get_function(FunctionName="configured-on-a"))
    a.put_function_event_invoke_config(FunctionName="configured-on-a", MaximumRetryAttempts=0)
    seen = eventually(lambda: b.get_function_event_invoke_config(FunctionName="configured-on-a"))
    assert seen["MaximumRetryAttempts"] == 0
    b.update_function_event_invoke_config(FunctionName="configured-on-a", MaximumEventAgeInSeconds=60)
    eventually(
        lambda: assertion(
            a.get_function_event_invoke_config(FunctionName="configured-on-a")["MaximumEventAgeInSeconds"]
            == 60
        )
    )
    a.delete_function(FunctionName="configured-on-a")
    create_function(a, "configured-on-a", says("made again"))  # nothing of the old one comes back
    eventually(
        lambda: assertion(
            error_of(lambda: b.get_function_event_invoke_config(FunctionName="configured-on-a"))[0] == 404
        )
    )


def schedule_of(server: FlareServer, schedule_id: str) -> dict[str, Any]:
    with signed_urlopen(f"{server.url}/flare/v1/schedules/{schedule_id}", timeout=10) as response:
        shown: dict[str, Any] = json.loads(response.read())
    return shown


def test_a_schedule_added_on_one_node_fires_once_per_period_across_the_cluster(
    nodes: list[FlareServer],
) -> None:
    a, b = (server.client() for server in nodes)
    create_function(a, "scheduled-on-a", says("tick"))
    eventually(lambda: invoke(b, "scheduled-on-a"))
    request = urllib.request.Request(
        f"{nodes[0].url}/flare/v1/schedules",
        data=json.dumps({"FunctionName": "scheduled-on-a", "ScheduleExpression": "rate(1 second)"}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with signed_urlopen(request, timeout=10) as response:
        schedule_id = json.loads(response.read())["Id"]
    started = time.monotonic()
    eventually(lambda: schedule_of(nodes[1], schedule_id))  # b armed it too
    time.sleep(3.5)
    runs = [schedule_of(server, schedule_id)["Runs"] for server in nodes]
    elapsed = time.monotonic() - started
    assert 2 <= sum(runs) <= int(elapsed) + 1, (runs, elapsed)  # each firing ran on one node
    a.delete_function(FunctionName="scheduled-on-a")  # its schedules go with it, from every node
    eventually(lambda: assertion(status_of_schedule(nodes[1], schedule_id) == 404))


def status_of_schedule(server: FlareServer, schedule_id: str) -> int:
    try:
        schedule_of(server, schedule_id)
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def test_concurrency_settings_made_on_one_node_are_answered_by_another(nodes: list[FlareServer]) -> None:
    a, b = (server.client() for server in nodes)
    create_function(a, "limited-on-a", says("x"))
    a.get_waiter("function_active_v2").wait(FunctionName="limited-on-a")
    version = a.publish_version(FunctionName="limited-on-a")["Version"]
    a.put_function_concurrency(FunctionName="limited-on-a", ReservedConcurrentExecutions=3)
    eventually(
        lambda: assertion(
            b.get_function_concurrency(FunctionName="limited-on-a").get("ReservedConcurrentExecutions") == 3
        )
    )
    b.put_provisioned_concurrency_config(
        FunctionName="limited-on-a", Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    seen = eventually(
        lambda: a.get_provisioned_concurrency_config(FunctionName="limited-on-a", Qualifier=version)
    )
    assert seen["RequestedProvisionedConcurrentExecutions"] == 1
    b.delete_function_concurrency(FunctionName="limited-on-a")
    eventually(
        lambda: assertion(
            "ReservedConcurrentExecutions" not in a.get_function_concurrency(FunctionName="limited-on-a")
        )
    )
    a.delete_function(FunctionName="limited-on-a")
    eventually(
        lambda: assertion(
            error_of(
                lambda: b.get_provisioned_concurrency_config(FunctionName="limited-on-a", Qualifier=version)
            )[0]
            == 404
        )
    )


def test_a_reservation_change_the_shared_ledger_refuses_is_made_nowhere(
    nodes: list[FlareServer], redis_server: RedisServer
) -> None:
    """When Redis's ledger script fails, neither a put nor a delete of a reservation changes
    any node's answer or store; once the ledger works again the same calls land. Before, the
    node asked had already changed its store and cache: it answered a reservation Redis did not
    enforce, or, for a delete, kept none while Redis still enforced it, and the delete's retry
    found nothing left to do (a function throttled for good)."""
    a, b = (server.client() for server in nodes)
    name = "refused-reservation"
    create_function(a, name, says("x"))
    shared = redis.Redis.from_url(redis_server.url)
    scope = Scope(DEFAULT_ACCOUNT_ID, DEFAULT_REGION)
    total, enforced = (ClusterLink.scoped(scope, "ledger", key) for key in ("reserved-total", "reserved"))

    def reserved(client: Any) -> int | None:
        value: int | None = client.get_function_concurrency(FunctionName=name).get(
            "ReservedConcurrentExecutions"
        )
        return value

    def refused(change: Callable[[], object], unchanged: int | None) -> None:
        kept = shared.get(total)
        shared.set(total, "not a number")  # the script's INCRBY on it fails
        try:
            assert error_of(change)[0] == 500
            assert (reserved(a), reserved(b)) == (unchanged, unchanged)
            held = shared.hget(enforced, name)  # what every node's grants read
            assert (int(held) if held is not None else None) == unchanged
        finally:
            shared.set(total, kept if kept is not None else 0)
        change()

        def landed() -> None:
            assert reserved(b) != unchanged

        eventually(landed)

    try:
        refused(lambda: a.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2), None)
        refused(lambda: a.delete_function_concurrency(FunctionName=name), 2)
    finally:
        shared.close()


def test_a_node_that_never_saw_the_upload_fetches_the_code_and_runs_it(
    tmp_path: Path, nodes: list[FlareServer], redis_server: RedisServer
) -> None:
    a = nodes[0].client()
    created = create_function(a, "fetched-later", says("fetched"))
    late = node(tmp_path, redis_server, "late")
    try:
        assert invoke(late.client(), "fetched-later") == {"says": "fetched"}
        digest = hashlib.sha256(says("fetched")).hexdigest()
        assert (late.data_dir / "blobs" / "sha256" / f"{digest}.zip").read_bytes() == says("fetched")
        assert (
            created["CodeSha256"]
            == late.client().get_function(FunctionName="fetched-later")["Configuration"]["CodeSha256"]
        )
    finally:
        late.stop()


def test_a_node_refuses_a_shared_blob_that_does_not_hash_to_its_code_sha256(
    tmp_path: Path, nodes: list[FlareServer], redis_server: RedisServer
) -> None:
    a = nodes[0].client()
    create_function(a, "corrupted", says("genuine"))
    digest = hashlib.sha256(says("genuine")).hexdigest()
    shared = redis.Redis.from_url(redis_server.url)
    shared.set(blob_key(digest), says("forged"))  # a valid zip, other bytes
    late = node(tmp_path, redis_server, "suspicious")
    try:
        client = late.client()
        assert client.get_function(FunctionName="corrupted")["Configuration"]["FunctionName"] == "corrupted"
        assert error_of(lambda: client.invoke(FunctionName="corrupted", Payload=b"{}")) == (
            502,
            "InvalidZipFileException",
        )
        assert not (late.data_dir / "blobs" / "sha256" / f"{digest}.zip").exists()
        assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName="corrupted")
        shared.set(blob_key(digest), says("genuine"))  # repaired: fetched on the next try
        assert invoke(client, "corrupted") == {"says": "genuine"}
    finally:
        late.stop()
        shared.close()


def test_a_node_missing_a_layers_zip_still_starts_and_refuses_only_what_needs_it(
    tmp_path: Path, nodes: list[FlareServer], redis_server: RedisServer
) -> None:
    a = nodes[0].client()
    content = zip_files({"python/lost_layer.py": "WORD = 'never seen'\n"})
    layer = a.publish_layer_version(LayerName="lost-layer", Content={"ZipFile": content})
    create_function(a, "needs-lost-layer", says("x"), Layers=[layer["LayerVersionArn"]])
    create_function(a, "needs-nothing-lost", says("still served"))
    shared = redis.Redis.from_url(redis_server.url)
    shared.delete(blob_key(hashlib.sha256(content).hexdigest()))
    shared.close()
    late = node(tmp_path, redis_server, "without-the-layer")
    try:
        client = late.client()
        assert invoke(client, "needs-nothing-lost") == {"says": "still served"}
        assert error_of(lambda: client.invoke(FunctionName="needs-lost-layer", Payload=b"{}")) == (
            502,
            "InvalidZipFileException",
        )
    finally:
        late.stop()


def test_a_key_made_with_flare_keys_cluster_signs_requests_to_every_node(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    strict = [node(tmp_path, redis_server, name, "--auth", "sigv4") for name in ("strict-a", "strict-b")]
    try:
        made = subprocess.run(
            [str(FLARE), "keys", "create", "--cluster", redis_server.url, "--account", "210987654321"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        fields = dict(line.split(" = ") for line in made.stdout.splitlines())
        for server in strict:
            signed = boto3.client(
                "lambda",
                endpoint_url=server.url,
                region_name="us-east-1",
                aws_access_key_id=fields["aws_access_key_id"],
                aws_secret_access_key=fields["aws_secret_access_key"],
                config=Config(retries={"total_max_attempts": 1}),
            )
            assert signed.list_functions()["Functions"] is not None
            assert error_of(server.client(key="210987654321").list_functions)[0] == 403  # a wrong secret
        listed = subprocess.run(
            [str(FLARE), "keys", "list", "--cluster", redis_server.url],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert "210987654321" in listed.stdout
    finally:
        for server in strict:
            server.stop()


def test_a_node_that_joins_brings_the_keys_of_its_data_dir_to_every_node(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    made = subprocess.run(
        [
            str(FLARE),
            "keys",
            "create",
            "--data-dir",
            str(tmp_path / "joining" / "data"),
            "--account",
            "345678901234",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    fields = dict(line.split(" = ") for line in made.stdout.splitlines())
    pair = [node(tmp_path, redis_server, name, "--auth", "sigv4") for name in ("joining", "already-there")]
    try:
        signed = boto3.client(
            "lambda",
            endpoint_url=pair[1].url,
            region_name="us-east-1",
            aws_access_key_id=fields["aws_access_key_id"],
            aws_secret_access_key=fields["aws_secret_access_key"],
            config=Config(retries={"total_max_attempts": 1}),
        )
        assert signed.list_functions()["Functions"] is not None
    finally:
        for server in pair:
            server.stop()


def settled(client: Any, name: str, revision: str) -> None:
    config = client.get_function_configuration(FunctionName=name)
    assert config["RevisionId"] == revision and config["LastUpdateStatus"] == "Successful"


def assertion(holds: bool) -> None:
    assert holds


def test_with_a_shared_blob_dir_code_is_shared_there_and_not_in_redis(tmp_path: Path) -> None:
    # A Redis of its own: every node of a cluster must share the blob dir, and an invoke may be
    # forwarded to any live node (the module's other nodes have no blob dir).
    redis_server = RedisServer.start(tmp_path / "redis")
    shared = tmp_path / "shared"
    pair = [
        node(tmp_path, redis_server, name, "--cluster-blob-dir", str(shared)) for name in ("dir-a", "dir-b")
    ]
    try:
        create_function(pair[0].client(), "shared-by-dir", says("from the dir"))
        assert eventually(lambda: invoke(pair[1].client(), "shared-by-dir")) == {"says": "from the dir"}
        digest = hashlib.sha256(says("from the dir")).hexdigest()
        assert (shared / f"{digest}.zip").read_bytes() == says("from the dir")
        client = redis.Redis.from_url(redis_server.url)
        assert client.get(blob_key(digest)) is None
        client.close()
    finally:
        for server in pair:
            server.stop()
        redis_server.stop()


def test_a_blob_dir_without_a_cluster_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(FLARE), "serve", "--data-dir", str(tmp_path), "--cluster-blob-dir", str(tmp_path / "shared")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "give --cluster too" in done.stderr
