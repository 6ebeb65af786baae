"""CloudWatch Logs answered for the whole cluster: a function that ran on two nodes has its
lines read, paged, described and given a retention through any node; a node that is killed has
its logs missing from the answers, which still come. Nodes in network namespaces
(``tests/cluster_hosts.py``), through boto3's ``logs`` client against different nodes."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.cluster_functions import create_seen_everywhere, eventually
from tests.cluster_hosts import KEY_ID, SECRET, ClusterHosts, InNetns, Node, available
from tests.conftest import create_function, python_function

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

SAYS = "def handler(event, context):\n    print(event['line'])\n    return context.log_stream_name\n"


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHosts]:
    with ClusterHosts.start(
        tmp_path_factory.mktemp("logs"), nodes=3, node_args=("--cluster-ttl", "1.5")
    ) as made:
        yield made


class TwoNodes:
    """A function whose provisioned environments run on ``writers`` (two nodes), invoked through
    each of them in turn; ``reader`` is the third node, which ran nothing of it."""

    def __init__(self, hosts: ClusterHosts) -> None:
        self.name = f"said-{uuid.uuid4().hex[:8]}"
        self.group = f"/aws/lambda/{self.name}"
        create_seen_everywhere(
            hosts,
            lambda lam: lam.get_function(FunctionName=self.name),
            lambda lam: create_function(lam, self.name, python_function(SAYS)),
        )
        lam = hosts.client(0)
        lam.publish_version(FunctionName=self.name)
        lam.put_provisioned_concurrency_config(
            FunctionName=self.name, Qualifier="1", ProvisionedConcurrentExecutions=2
        )
        deadline = time.monotonic() + 30
        while (
            lam.get_provisioned_concurrency_config(FunctionName=self.name, Qualifier="1")["Status"] != "READY"
        ):
            assert time.monotonic() < deadline, "not READY within 30 s"
            time.sleep(0.1)
        spread = hosts.redis_client().hgetall(f"flare:{{000000000000:us-east-1}}:provisioned:{self.name}:1")
        holders = sorted(node.decode() for node, count in spread.items() if int(count) > 0)
        assert len(holders) == 2
        self.writers = [node for node in hosts.nodes if node.name in holders]
        self.reader = next(node for node in hosts.nodes if node.name not in holders)
        self.lines: list[str] = []
        self.streams: dict[str, str] = {}  # node name => its environment's stream
        for turn in range(8):
            writer = self.writers[turn % 2]
            line = f"line {self.name} {turn:02d} from {writer.name}"
            answer = hosts.client(writer).invoke(
                FunctionName=self.name, Qualifier="1", Payload=json.dumps({"line": line}).encode()
            )
            assert answer.get("FunctionError") is None
            self.streams[writer.name] = json.loads(answer["Payload"].read())
            self.lines.append(line)


@pytest.fixture(scope="module")
def said(hosts: ClusterHosts) -> TwoNodes:
    return TwoNodes(hosts)


def filtered(logs: Any, group: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every page of a FilterLogEvents of the function's own lines."""
    events: list[dict[str, Any]] = []
    token = None
    for _ in range(100):
        page = logs.filter_log_events(
            logGroupName=group,
            filterPattern='"line said-"',
            **kwargs,
            **({"nextToken": token} if token else {}),
        )
        events.extend(page["events"])
        token = page.get("nextToken")
        if token is None:
            return events
    raise AssertionError("FilterLogEvents did not stop paging")


def test_filtering_on_a_third_node_returns_both_nodes_lines_in_time_order(
    hosts: ClusterHosts, said: TwoNodes
) -> None:
    logs = hosts.client(said.reader, "logs")
    events = eventually(lambda: _all_lines(logs, said))
    assert [event["message"].strip() for event in events] == said.lines
    assert [event["timestamp"] for event in events] == sorted(event["timestamp"] for event in events)
    assert {event["logStreamName"] for event in events} == set(said.streams.values())
    assert len({event["eventId"] for event in events}) == len(events)


def _all_lines(logs: Any, said: TwoNodes) -> list[dict[str, Any]]:
    events = filtered(logs, said.group)
    assert len(events) == len(said.lines)
    return events


def test_a_filter_pages_across_nodes_without_repeats(hosts: ClusterHosts, said: TwoNodes) -> None:
    logs = hosts.client(said.reader, "logs")
    pages = []
    token = None
    while True:
        page = logs.filter_log_events(
            logGroupName=said.group,
            filterPattern='"line said-"',
            limit=3,
            **({"nextToken": token} if token else {}),
        )
        pages.append([event["message"].strip() for event in page["events"]])
        token = page.get("nextToken")
        if token is None:
            break
    assert [len(page) for page in pages][:2] == [3, 3]
    assert [line for page in pages for line in page] == said.lines
    only = filtered(logs, said.group, logStreamNames=[said.streams[said.writers[1].name]])
    assert [event["message"].strip() for event in only] == said.lines[1::2]
    late = filtered(logs, said.group, startTime=only[-1]["timestamp"])
    assert [event["message"].strip() for event in late][-1] == said.lines[-1]


def test_a_stream_written_on_one_node_is_read_through_another(hosts: ClusterHosts, said: TwoNodes) -> None:
    writer, other = said.writers
    logs = hosts.client(other, "logs")
    stream = said.streams[writer.name]
    page = logs.get_log_events(logGroupName=said.group, logStreamName=stream, startFromHead=True)
    mine = [event["message"].strip() for event in page["events"] if "line said-" in event["message"]]
    assert mine == said.lines[0::2]
    again = logs.get_log_events(
        logGroupName=said.group, logStreamName=stream, nextToken=page["nextForwardToken"]
    )
    assert again["events"] == []
    with pytest.raises(ClientError) as missing:
        logs.get_log_events(logGroupName=said.group, logStreamName="no-such-stream")
    assert missing.value.response["Error"] == {
        "Code": "ResourceNotFoundException",
        "Message": "The specified log stream does not exist.",
    }


def test_describing_on_the_third_node_lists_both_nodes_streams(hosts: ClusterHosts, said: TwoNodes) -> None:
    logs = hosts.client(said.reader, "logs")
    streams = logs.describe_log_streams(logGroupName=said.group)["logStreams"]
    assert {s["logStreamName"] for s in streams} == set(said.streams.values())
    groups = logs.describe_log_groups(logGroupNamePrefix=said.group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [said.group]
    each = [
        node_part(hosts, node, "Groups", {"prefix": said.group})["Groups"][0]["bytes"]
        for node in said.writers
    ]
    assert groups[0]["storedBytes"] == sum(each) > 0


def node_part(
    hosts: ClusterHosts, node: Node, part: str, args: dict[str, Any], token: str | None = None
) -> Any:
    """A node's own answer to a logs part, asked as another node would (with the token)."""
    if token is None:
        token = hosts.redis_client().get("flare:cluster:{nodes}:token").decode()
    status, _, body = hosts.run(ask_node, node, part, args, token)
    assert status == 200, body
    return json.loads(body)


def ask_node(node: Node, part: str, args: dict[str, Any], token: str) -> tuple[int, str, bytes]:
    body = json.dumps({"Account": "000000000000", "Region": "us-east-1", "Part": part, "Args": args})
    connection = http.client.HTTPConnection(node.address, 9000, timeout=10)
    try:
        headers = {"content-type": "application/json", "x-flare-cluster-token": token}
        connection.request("POST", "/flare/v1/cluster/logs", body=body.encode(), headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("x-amzn-ErrorType") or "", response.read()
    finally:
        connection.close()


def test_a_nodes_logs_are_not_served_to_a_caller_without_the_clusters_token(
    hosts: ClusterHosts, said: TwoNodes
) -> None:
    status, kind, body = hosts.run(ask_node, said.writers[0], "Groups", {"prefix": said.group}, "guessed")
    assert (status, kind.split(":")[0]) == (403, "AccessDeniedException")
    assert said.group.encode() not in body


def test_a_retention_set_through_one_node_is_applied_on_the_others(
    hosts: ClusterHosts, said: TwoNodes
) -> None:
    hosts.client(said.writers[0], "logs").put_retention_policy(logGroupName=said.group, retentionInDays=7)
    for node in said.writers:  # each node's own group row, not only the merged view
        assert node_part(hosts, node, "Groups", {"prefix": said.group})["Groups"][0]["retention"] == 7
    described = hosts.client(said.writers[1], "logs").describe_log_groups(logGroupNamePrefix=said.group)
    assert described["logGroups"][0]["retentionInDays"] == 7
    hosts.client(said.reader, "logs").delete_retention_policy(logGroupName=said.group)
    for node in said.writers:
        assert node_part(hosts, node, "Groups", {"prefix": said.group})["Groups"][0]["retention"] is None


def test_a_group_made_on_one_node_exists_for_every_node(hosts: ClusterHosts) -> None:
    group = f"/test/made-{uuid.uuid4().hex[:8]}"
    first, second, third = (hosts.client(node, "logs") for node in hosts.nodes)
    first.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as exists:
        second.create_log_group(logGroupName=group)
    assert exists.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    second.create_log_stream(logGroupName=group, logStreamName="made-on-second")
    third.put_log_events(
        logGroupName=group,
        logStreamName="made-on-second",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "put through the third"}],
    )
    page = first.get_log_events(logGroupName=group, logStreamName="made-on-second")
    assert [event["message"] for event in page["events"]] == ["put through the third"]
    with pytest.raises(ClientError) as stream_exists:
        third.create_log_stream(logGroupName=group, logStreamName="made-on-second")
    assert stream_exists.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    third.delete_log_group(logGroupName=group)
    for logs in (first, second, third):
        assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []


def tail_client(hosts: ClusterHosts, node: Node) -> Any:
    """A ``logs`` client for StartLiveTail (boto3 sends it to ``stream-<host>`` unless told not to)."""
    return InNetns(
        hosts.run(
            boto3.client,
            "logs",
            endpoint_url=node.url,
            region_name="us-east-1",
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            config=Config(retries={"total_max_attempts": 1}, read_timeout=20, inject_host_prefix=False),
        ),
        hosts.threads,
    )


def test_a_live_tail_on_the_third_node_shows_both_nodes_new_lines(
    hosts: ClusterHosts, said: TwoNodes
) -> None:
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{said.group}"
    response = tail_client(hosts, said.reader).start_live_tail(
        logGroupIdentifiers=[arn], logEventFilterPattern='"tailed said-"'
    )
    events = iter(response["responseStream"])
    assert next(events)["sessionStart"]["logGroupIdentifiers"] == [arn]
    lines = []
    for turn, writer in enumerate(said.writers * 2):
        line = f"tailed {said.name} {turn} from {writer.name}"
        hosts.client(writer).invoke(
            FunctionName=said.name, Qualifier="1", Payload=json.dumps({"line": line}).encode()
        )
        lines.append(line)
    seen: list[str] = []
    deadline = time.monotonic() + 15
    while len(seen) < len(lines) and time.monotonic() < deadline:
        update = next(events)["sessionUpdate"]
        seen += [result["message"].strip() for result in update["sessionResults"]]
        assert all(result["logGroupIdentifier"] == arn for result in update["sessionResults"])
    response["responseStream"].close()
    assert seen == lines


def test_a_node_that_was_away_takes_the_retention_set_meanwhile(hosts: ClusterHosts, said: TwoNodes) -> None:
    away, present = said.writers
    hosts.stop(away)
    hosts.wait_converged()
    hosts.client(present, "logs").put_retention_policy(logGroupName=said.group, retentionInDays=14)
    hosts.launch(away)
    hosts.wait_ready(away)
    hosts.wait_converged()

    def taken() -> None:
        assert node_part(hosts, away, "Groups", {"prefix": said.group})["Groups"][0]["retention"] == 14

    eventually(taken)
    described = hosts.client(said.reader, "logs").describe_log_groups(logGroupNamePrefix=said.group)
    assert described["logGroups"][0]["retentionInDays"] == 14


def test_a_killed_nodes_logs_are_missing_and_the_calls_still_answer(
    hosts: ClusterHosts, said: TwoNodes
) -> None:
    gone, kept = said.writers
    hosts.kill(gone)
    logs = hosts.client(said.reader, "logs")
    events = filtered(logs, said.group)  # before the cluster has dropped the dead node, too
    assert [event["message"].strip() for event in events] == said.lines[1::2]
    streams = logs.describe_log_streams(logGroupName=said.group)["logStreams"]
    names = {s["logStreamName"] for s in streams}
    assert said.streams[kept.name] in names and said.streams[gone.name] not in names
    with pytest.raises(ClientError) as missing:
        logs.get_log_events(logGroupName=said.group, logStreamName=said.streams[gone.name])
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
