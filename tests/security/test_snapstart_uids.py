"""A SnapStart template's INIT code runs as root of a user namespace of its own: it must not
be able to become another function's environment (whose Runtime API would then answer it:
its events, its answers), and its root is no uid another process runs as (every environment's
init ran as the same host uid)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from flare.sandbox.cgroups import Cgroups
from tests.conftest import create_function, python_function

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or Cgroups.detect() is None,
    reason="SnapStart templates need the sandbox (root and cgroups)",
)

VICTIM = """
import os
def handler(event, context):
    return {"uid": os.getuid(), "api": os.environ["AWS_LAMBDA_RUNTIME_API"]}
"""

# module level: this runs in the template, during INIT, before the snapshot
THIEF = """
import os, urllib.request, urllib.error

def attempt(uid, api):
    try:
        os.setresuid(uid, uid, uid)
    except OSError as error:
        return "setuid refused: %s" % error.strerror
    request = urllib.request.Request(
        "http://%s/2018-06-01/runtime/invocation/not-a-request/response" % api, data=b"{}", method="POST"
    )
    try:
        return "runtime api answered %s" % urllib.request.urlopen(request, timeout=5).status
    except urllib.error.HTTPError as error:  # AccessDenied: not the victim's; else it is
        return "runtime api answered %s %s" % (error.code, error.read()[:200])
    except OSError as error:
        return "runtime api unreachable: %s" % error

ATTEMPTS = {}
pid = os.fork()
if pid == 0:
    with open("/tmp/attempt", "w") as out:
        out.write(attempt(int(os.environ["VICTIM_UID"]), os.environ["VICTIM_API"]))
    os._exit(0)
os.waitpid(pid, 0)
with open("/tmp/attempt") as result:
    ATTEMPTS["victim"] = result.read()
with open("/proc/self/uid_map") as uid_map:  # inside, outside, count: what this root may become
    ATTEMPTS["uid_map"] = [[int(n) for n in line.split()] for line in uid_map]

def handler(event, context):
    return ATTEMPTS
"""


def test_a_templates_init_cannot_become_another_environment_or_an_init(lam: Any) -> None:
    from flare.runtimes.lambda_python.uids import INIT_UID, TEMPLATE_BLOCK

    create_function(lam, "uid-victim", python_function(VICTIM))
    victim = json.loads(lam.invoke(FunctionName="uid-victim", Payload=b"{}")["Payload"].read())
    create_function(
        lam,
        "uid-thief",
        python_function(THIEF),
        runtime="python3.12",
        SnapStart={"ApplyOn": "PublishedVersions"},
        Environment={
            "Variables": {
                "VICTIM_UID": str(victim["uid"]),
                "VICTIM_API": victim["api"],
                "INIT_UID": str(INIT_UID),
            }
        },
    )
    version = lam.publish_version(FunctionName="uid-thief")["Version"]
    lam.get_waiter("published_version_active").wait(FunctionName="uid-thief", Qualifier=version)
    reply = lam.invoke(FunctionName="uid-thief", Qualifier=version, Payload=b"{}")
    attempts = json.loads(reply["Payload"].read())
    assert "FunctionError" not in reply, attempts
    assert attempts["victim"].startswith("setuid refused"), attempts
    host_uids = [uid for _, outside, count in attempts["uid_map"] for uid in range(outside, outside + count)]
    assert INIT_UID not in host_uids and victim["uid"] not in host_uids
    assert len(host_uids) == TEMPLATE_BLOCK  # its root and its own restores, nothing else
