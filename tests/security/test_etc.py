"""A handler sees Lambda's small ``/etc``, not the host's: its own user is ``sbx_user1051``,
``localhost`` resolves, TLS finds its CA certificates, and none of the host's users, keys or
tool configuration can be read. Needs root (the sandbox's mount namespace); skips otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Any

import pytest

from flare.machine import PYTHON_MINORS
from flare.runtimes.lambda_python.uids import TEMPLATE_UID_BASE
from flare.sandbox.isolation import sdk_dir_of
from flare.sandbox.launcher import find_interpreter, sdk_dir
from tests.conftest import FlareServer, create_function, python_function

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's mount namespace needs root")

PROBE = """
import getpass, json, os, pwd, socket, ssl, sys
try:
    import boto3
    BOTO3 = True
except Exception:  # the SDK's own floor, not /etc: compared with the host's answer
    BOTO3 = False
def handler(event, context):
    readable = {}
    for path in event["host_files"]:
        try:
            open(path, "rb").read(1)
            readable[path] = True
        except OSError:
            readable[path] = False
    context_ = ssl.create_default_context()
    return {
        "python": "%d.%d" % sys.version_info[:2],
        "user": getpass.getuser(),
        "uid_name": pwd.getpwuid(os.getuid()).pw_name,
        "users": sorted({entry.pw_name for entry in pwd.getpwall()}),
        "localhost": sorted({info[4][0] for info in socket.getaddrinfo("localhost", 80)}),
        "ca_certificates": context_.cert_store_stats()["x509_ca"],
        "boto3": BOTO3,
        "etc": sorted(os.listdir("/etc")),
        "readable": readable,
    }
"""
# host files a handler must not read (those this host has)
HOST_FILES = ["/etc/machine-id", "/etc/shadow", "/etc/pip.conf", "/etc/gitconfig", "/etc/ssh", "/etc/fstab"]
LAMBDA_ETC = {"passwd", "group", "hosts", "nsswitch.conf", "ssl", "pki", "ld.so.cache", "localtime"}


def _boto3_imports_on_the_host(minor: str) -> bool:
    interpreter = find_interpreter(minor)
    assert interpreter is not None
    env = {"PYTHONPATH": str(sdk_dir_of(sdk_dir(), interpreter)), "PATH": "/usr/bin:/bin"}
    return (
        subprocess.run([str(interpreter), "-c", "import boto3"], env=env, capture_output=True).returncode == 0
    )


def _invoke(lam: Any, name: str, event: dict[str, Any]) -> Any:
    response = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


@pytest.mark.parametrize("minor", [minor for minor in PYTHON_MINORS if find_interpreter(minor)])
def test_handler_sees_lambdas_etc_and_not_the_hosts(flare: FlareServer, lam: Any, minor: str) -> None:
    name = f"etc-{minor.replace('.', '-')}"
    create_function(lam, name, python_function(PROBE), runtime=f"python{minor}", Timeout=30)
    host_files = [path for path in HOST_FILES if os.path.exists(path)]
    seen = _invoke(lam, name, {"host_files": host_files})
    assert seen["python"] == minor
    assert seen["user"] == seen["uid_name"] == "sbx_user1051"
    assert seen["users"] == ["nobody", "root", "sbx_user1051"]
    assert "127.0.0.1" in seen["localhost"]
    assert seen["ca_certificates"] > 0
    assert seen["boto3"] is _boto3_imports_on_the_host(minor)
    assert set(seen["etc"]) >= LAMBDA_ETC
    assert not set(seen["etc"]) & {"machine-id", "shadow", "pip.conf", "gitconfig", "ssh", "fstab", "sudoers"}
    assert seen["readable"] == dict.fromkeys(host_files, False)


def test_isolated_network_has_no_resolver(lam: Any) -> None:
    source = """
import os
def handler(event, context):
    return {"resolv": os.path.exists("/etc/resolv.conf"), "hosts": open("/etc/hosts").read()}
"""
    create_function(lam, "etc-isolated", python_function(source), Tags={"flare:network": "isolated"})
    create_function(lam, "etc-default", python_function(source))
    isolated, default = _invoke(lam, "etc-isolated", {}), _invoke(lam, "etc-default", {})
    assert isolated["resolv"] is False
    assert default["resolv"] is os.path.exists("/etc/resolv.conf")
    assert "localhost" in isolated["hosts"] == default["hosts"]


def test_a_snapstart_restore_is_the_sandbox_user_too(lam: Any) -> None:
    source = "import getpass, os\ndef handler(event, context):\n    return [getpass.getuser(), os.getuid()]\n"
    create_function(
        lam,
        "etc-restored",
        python_function(source),
        runtime="python3.12",
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    version = lam.publish_version(FunctionName="etc-restored")["Version"]
    deadline = time.monotonic() + 60
    while (
        lam.get_function_configuration(FunctionName="etc-restored", Qualifier=version)["State"] == "Pending"
    ):
        assert time.monotonic() < deadline, "the snapshot was never made"
        time.sleep(0.05)
    user, uid = _invoke(lam, f"etc-restored:{version}", {})
    assert user == "sbx_user1051"
    assert uid >= TEMPLATE_UID_BASE  # a restore's own uid, not an on-demand environment's
