"""Async events on a cluster's Redis (``cluster/redis_event_queue.py``), through boto3 against a
node on 127.0.0.1: an event Redis did not take is refused, never answered 202. (A node killed
holding an event, and Redis restarted with its append-only file, are tests as hosts:
``test_cluster_queue_hosts.py``.)"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import create_function, python_function
from tests.local_cluster import LocalCluster
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")

HELLO = "def handler(event, context):\n    return event\n"


def test_an_event_redis_did_not_take_is_refused_not_answered_202(tmp_path: Path) -> None:
    redis_server = RedisServer.start(tmp_path / "redis", appendonly=True)
    cluster = LocalCluster.start(tmp_path, redis_server, ("a",))
    try:
        name = f"hello-{uuid.uuid4().hex[:8]}"
        create_function(cluster.client("a"), name, python_function(HELLO))
        redis_server.kill()
        with pytest.raises(ClientError) as refused:
            cluster.client("a").invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert refused.value.response["Error"]["Code"] == "ServiceException"
        assert "not queued" in refused.value.response["Error"]["Message"]
    finally:
        cluster.stop()
        redis_server.stop()
