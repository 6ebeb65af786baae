"""Durable executions shared by a cluster's nodes, as hosts: Redis and three ``flare serve
--cluster`` nodes each in a network namespace of its own (``tests/cluster_hosts.py``), driven
through boto3 against different nodes:

- an execution started on one node is read on the others (Get, List, History);
- a callback sent through another node completes an execution waiting on the first: the
  synchronous invoke on the first node answers with the execution's result;
- an execution stopped through another node answers the invoke waiting on its node at once;
- paused through another node, its wait ends on its home without an invocation; resumed through
  another node, its home invokes it;
- an execution in a wait whose node is SIGKILLed completes on a survivor.

Nodes run with ``--cluster-ttl 2``: a dead node's executions are adopted about two seconds after
its last heartbeat (Redis's clock judges heartbeats: a wall-clock lease by nature). Waits are a
few seconds of the engine's clock, which runs at the wall's pace here.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from tests.cluster_functions import create_seen_everywhere, eventually
from tests.cluster_hosts import KEY_ID, SECRET, ClusterHosts, Node, available
from tests.conftest import ROLE, create_function, python_function
from tests.durable_fixtures import CHECKPOINTS, LIVE
from tests.signing import signed_headers

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

FLAGS = ("--cluster-ttl", "2")
HOMES = "flare:{000000000000:us-east-1}:durable:homes"

# Waits for a callback, then a step: ends with what the callback was answered.
CALLBACK = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def handler(event, context: DurableContext):
    got = context.create_callback(name="approval").result()
    return {"got": got, "then": context.step(lambda _: "stepped", name="after")}
"""
# A step, a wait of event["wait"] seconds, a step.
WAIT = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def handler(event, context: DurableContext):
    before = context.step(lambda _: "before", name="before")
    context.wait(Duration.from_seconds(event["wait"]), name="pause")
    return [before, context.step(lambda _: "after", name="after")]
"""


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHosts]:
    with ClusterHosts.start(tmp_path_factory.mktemp("durable-hosts"), nodes=3, node_args=FLAGS) as started:
        started.run(allow_checkpoints, started.nodes[0].url)
        yield started


def allow_checkpoints(url: str) -> None:
    """The functions' role may checkpoint (role policies are shared: one node is enough)."""
    query = urllib.parse.urlencode({"RoleArn": ROLE, "PolicyName": "durable"})
    target, body = f"{url}/flare/v1/roles/policies?{query}", json.dumps(CHECKPOINTS).encode()
    headers = signed_headers(
        "PUT", target, body, {"Content-Type": "application/json"}, key=KEY_ID, secret=SECRET
    )
    request = urllib.request.Request(target, data=body, method="PUT", headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        response.read()


def durable(hosts: ClusterHosts, source: str) -> str:
    """A durable function of ``source`` that every live node sees; its name."""
    name = f"durable-{uuid.uuid4().hex[:8]}"

    def create(lam: Any) -> None:
        create_function(
            lam, name, python_function(source), runtime="python3.13", Timeout=30,
            DurableConfig={"ExecutionTimeout": 600, "RetentionPeriodInDays": 1},
        )  # fmt: skip
        lam.get_waiter("function_active_v2").wait(FunctionName=name)

    create_seen_everywhere(hosts, lambda lam: lam.get_function(FunctionName=name), create)
    return name


def kinds(lam: Any, arn: str) -> list[str]:
    events = lam.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=1000)["Events"]
    return [event["EventType"] for event in events]


def settled_on(lam: Any, arn: str, kind: str) -> None:
    """Until ``arn``'s history has ``kind`` and its last invocation has ended."""

    def settled() -> None:
        found = kinds(lam, arn)
        assert kind in found and found[-1] == "InvocationCompleted", found

    eventually(settled, timeout=30)


def ended(lam: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    def done() -> dict[str, Any]:
        execution: dict[str, Any] = lam.get_durable_execution(DurableExecutionArn=arn)
        assert execution["Status"] not in LIVE, execution["Status"]
        return execution

    return eventually(done, timeout=timeout)


def test_an_execution_started_on_one_host_is_read_on_the_others(hosts: ClusterHosts) -> None:
    name = durable(hosts, CALLBACK)
    first, *others = (hosts.client(node) for node in hosts.nodes)
    arn = first.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 1}')["DurableExecutionArn"]
    settled_on(first, arn, "CallbackStarted")
    seen_first = first.get_durable_execution(DurableExecutionArn=arn)
    for lam in others:
        execution = lam.get_durable_execution(DurableExecutionArn=arn)
        assert (execution["Status"], execution["InputPayload"]) == ("RUNNING", '{"n": 1}')
        assert execution["DurableExecutionName"] == seen_first["DurableExecutionName"]
        listed = lam.list_durable_executions_by_function(FunctionName=name)["DurableExecutions"]
        assert [found["DurableExecutionArn"] for found in listed] == [arn]
        assert kinds(lam, arn) == kinds(first, arn)
        assert kinds(lam, arn)[0] == "ExecutionStarted" and "CallbackStarted" in kinds(lam, arn)


def home_of(hosts: ClusterHosts, arn: str) -> Node:
    """The node that runs ``arn`` (its home, as Redis records it)."""
    name = hosts.redis_client().hget(HOMES, arn)
    assert name is not None, "the execution has no home"
    return next(node for node in hosts.nodes if node.name == name.decode())


def started(lam: Any, name: str) -> str:
    """The ARN of ``name``'s one execution, once there is one."""

    def listed() -> str:
        found = lam.list_durable_executions_by_function(FunctionName=name)["DurableExecutions"]
        assert found, "no execution yet"
        return str(found[0]["DurableExecutionArn"])

    return eventually(listed, timeout=30)


def waiting_on_a_callback(hosts: ClusterHosts) -> tuple[Future[Any], str, Any]:
    """A synchronous invoke of a function that waits on a callback (the node that takes it,
    node 0 or the node it routes to, runs the execution and answers the invoke when the
    execution ends): the invoke's future, the execution, and a client of a node not its home."""
    name = durable(hosts, CALLBACK)
    waiting = hosts.threads.submit(lambda: hosts.client(0).invoke(FunctionName=name, Payload=b"{}"))
    arn = started(hosts.client(1), name)
    settled_on(hosts.client(1), arn, "CallbackStarted")
    home = home_of(hosts, arn)
    return waiting, arn, hosts.client(next(node for node in hosts.nodes if node is not home))


def test_a_callback_sent_through_another_host_completes_an_execution_waiting_on_the_first(
    hosts: ClusterHosts,
) -> None:
    waiting, arn, other = waiting_on_a_callback(hosts)
    events = other.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
    callback = next(e for e in events if e["EventType"] == "CallbackStarted")["CallbackStartedDetails"]
    other.send_durable_execution_callback_success(CallbackId=callback["CallbackId"], Result=b"yes")
    reply = waiting.result(timeout=30)  # the home answers: it invoked the execution again
    assert "FunctionError" not in reply
    assert json.loads(reply["Payload"].read()) == {"got": "yes", "then": "stepped"}
    for node in hosts.nodes:
        assert hosts.client(node).get_durable_execution(DurableExecutionArn=arn)["Status"] == "SUCCEEDED"


def test_stopped_through_another_host_the_invoke_waiting_on_its_home_answers(hosts: ClusterHosts) -> None:
    waiting, arn, other = waiting_on_a_callback(hosts)
    asked = time.monotonic()
    other.stop_durable_execution(DurableExecutionArn=arn)
    reply = waiting.result(timeout=30)
    assert time.monotonic() - asked < 10  # at once, not at the invoke's 30 s limit
    assert reply["FunctionError"] == "Unhandled"
    assert json.loads(reply["Payload"].read())["errorType"] == "Stopped"
    for node in hosts.nodes:
        assert hosts.client(node).get_durable_execution(DurableExecutionArn=arn)["Status"] == "STOPPED"


def test_paused_and_resumed_through_another_host_its_home_invokes_it_once_resumed(
    hosts: ClusterHosts,
) -> None:
    name = durable(hosts, WAIT)
    lam = hosts.client(0)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"wait": 2}')["DurableExecutionArn"]
    settled_on(lam, arn, "WaitStarted")
    other = hosts.client(next(node for node in hosts.nodes if node is not home_of(hosts, arn)))
    other.pause_durable_execution(DurableExecutionArn=arn, Reason="hold on")
    eventually(lambda: _holds("WaitSucceeded" in kinds(lam, arn)), timeout=15)  # the home's timer
    time.sleep(0.5)
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "PAUSED"
    assert kinds(lam, arn).count("InvocationCompleted") == 1  # not invoked while paused
    other.resume_durable_execution(DurableExecutionArn=arn, Reason="go")
    done = ended(lam, arn)
    assert (done["Status"], json.loads(done["Result"])) == ("SUCCEEDED", ["before", "after"])
    history = kinds(lam, arn)
    assert (
        history.index("ExecutionPaused") < history.index("WaitSucceeded") < history.index("ExecutionResumed")
    )


def _holds(condition: bool) -> None:
    assert condition


def test_an_execution_waiting_on_a_killed_host_completes_on_a_survivor(hosts: ClusterHosts) -> None:
    name = durable(hosts, WAIT)
    lam = hosts.client(1)
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"wait": 3}')["DurableExecutionArn"]
    settled_on(lam, arn, "WaitStarted")
    home = home_of(hosts, arn)
    hosts.kill(home)  # its timer for the wait dies with it
    killed_at = time.monotonic()
    survivor = hosts.client(next(node for node in hosts.nodes if node.alive()))
    done = ended(survivor, arn, timeout=30)
    assert (done["Status"], json.loads(done["Result"])) == ("SUCCEEDED", ["before", "after"])
    assert time.monotonic() - killed_at < 20
    history = kinds(survivor, arn)
    assert history.count("WaitSucceeded") == 1 and history[-1] == "ExecutionSucceeded"
    assert hosts.redis_client().hget(HOMES, arn) is None  # ended: it has no home
