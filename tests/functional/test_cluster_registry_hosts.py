"""One registry on Redis, seen by every node, as hosts: Redis and three ``flare serve --cluster``
nodes each in a network namespace of its own (``tests/cluster_hosts.py``), driven through boto3
from the clients' namespace against different nodes."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cluster_functions import eventually
from tests.cluster_hosts import ClusterHosts, available
from tests.conftest import create_function, python_function

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

SAYS = "def handler(event, context):\n    return {{'says': {word!r}}}\n"


def says(word: str) -> bytes:
    return python_function(SAYS.format(word=word))


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHosts]:
    with ClusterHosts.start(tmp_path_factory.mktemp("registry-hosts"), nodes=3) as started:
        yield started


def invoke(client: Any, name: str) -> dict[str, Any]:
    reply = client.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in reply
    result: dict[str, Any] = json.loads(reply["Payload"].read())
    return result


def status_of(call: Callable[[], object]) -> tuple[int, str]:
    try:
        call()
    except ClientError as error:
        return error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]["Code"]
    raise AssertionError("the call succeeded")


def test_made_on_one_host_run_on_the_others_new_code_everywhere_then_gone_everywhere(
    hosts: ClusterHosts,
) -> None:
    first, second, third = (hosts.client(i) for i in range(3))
    create_function(first, "across-hosts", says("one"))
    assert eventually(lambda: invoke(second, "across-hosts")) == {"says": "one"}
    assert eventually(lambda: invoke(third, "across-hosts")) == {"says": "one"}
    new = first.update_function_code(FunctionName="across-hosts", ZipFile=says("two"))["CodeSha256"]
    for client in (second, third):
        eventually(functools.partial(_has_code, client, "across-hosts", new))
        assert invoke(client, "across-hosts") == {"says": "two"}  # its warm environment retired
    first.delete_function(FunctionName="across-hosts")
    for client in (second, third):
        eventually(functools.partial(_is_gone, client, "across-hosts"))


def test_of_two_hosts_updating_with_one_revision_id_exactly_one_wins(hosts: ClusterHosts) -> None:
    clients = [hosts.client(1), hosts.client(2)]
    create_function(clients[0], "contested-hosts", says("x"))
    for round_ in range(5):
        revision = clients[0].get_function_configuration(FunctionName="contested-hosts")["RevisionId"]
        for client in clients:
            eventually(functools.partial(_settled, client, "contested-hosts", revision))
        start = threading.Barrier(2)

        def update(
            client: Any, description: str, start: threading.Barrier = start, revision: str = revision
        ) -> str:
            start.wait()
            try:
                client.update_function_configuration(
                    FunctionName="contested-hosts", Description=description, RevisionId=revision
                )
                return "won"
            except ClientError as error:
                return str(error.response["Error"]["Code"])

        outcomes = hosts.run_many(
            [functools.partial(update, client, f"round {round_} by {i}") for i, client in enumerate(clients)]
        )
        assert sorted(map(str, outcomes)) == ["PreconditionFailedException", "won"], (round_, outcomes)


def test_a_host_that_joins_later_fetches_code_it_never_saw(hosts: ClusterHosts, tmp_path: Path) -> None:
    create_function(hosts.client(0), "before-the-join", says("fetched by a new host"))
    late = hosts.add_node()
    hosts.wait_ready(late)
    client = hosts.client(late)
    assert invoke(client, "before-the-join") == {"says": "fetched by a new host"}
    assert any((late.data_dir / "blobs" / "sha256").glob("*.zip"))


def _settled(client: Any, name: str, revision: str) -> None:
    config = client.get_function_configuration(FunctionName=name)
    assert config["RevisionId"] == revision and config["LastUpdateStatus"] == "Successful"


def _has_code(client: Any, name: str, code_sha256: str) -> None:
    assert client.get_function_configuration(FunctionName=name)["CodeSha256"] == code_sha256


def _is_gone(client: Any, name: str) -> None:
    assert status_of(functools.partial(invoke, client, name))[0] == 404
