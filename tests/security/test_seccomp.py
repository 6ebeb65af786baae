"""A handler's seccomp filter: the system calls a function has no business making fail with
EPERM (user namespaces, keyrings, ptrace, another process's memory...), in a cold-started and a
SnapStart-restored environment, in a SnapStart template's INIT and in every process the handler
starts, while fork, threads and subprocesses keep working. Needs root (the sandbox); skips
otherwise."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from tests.conftest import create_function, python_function

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox (and its filter) needs root")

ATTACKS = """
import ctypes, errno, os, platform, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {"x86_64": {"keyctl": 250, "add_key": 248, "clone": 56},
      "aarch64": {"keyctl": 219, "add_key": 217, "clone": 220}}[platform.machine()]
CLONE_NEWUSER, CLONE_NEWNS, SIGCHLD = 0x10000000, 0x00020000, 17

def outcome(result):
    return "allowed" if result >= 0 else errno.errorcode[ctypes.get_errno()]

def raw_clone_new_user():
    pid = libc.syscall(NR["clone"], CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return outcome(pid)

def traceme_in_a_child():
    pid = os.fork()
    if pid == 0:
        os._exit(0 if libc.ptrace(0, 0, None, None) == 0 else ctypes.get_errno())
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return "allowed" if code == 0 else errno.errorcode[code]

class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

def read_memory_by_pid():
    source, target = ctypes.create_string_buffer(b"secret!!"), ctypes.create_string_buffer(8)
    local, remote = Iovec(ctypes.addressof(target), 8), Iovec(ctypes.addressof(source), 8)
    return outcome(libc.process_vm_readv(os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))

def attacks():
    return {
        "clone user namespace": raw_clone_new_user(),  # first: unshare's namespace has no uid map
        "unshare user namespace": outcome(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS)),
        "keyctl": outcome(libc.syscall(NR["keyctl"], 0, -3, 1, 0, 0)),
        "add_key": outcome(libc.syscall(NR["add_key"], b"user", b"flare", b"x", 1, -2)),
        "ptrace": traceme_in_a_child(),
        "process_vm_readv": read_memory_by_pid(),
    }

def still_works():
    done = []
    thread = threading.Thread(target=done.append, args=(1,))
    thread.start()
    thread.join()
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    forked = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    command = ["/bin/sh", "-c", "grep '^Seccomp:' /proc/self/status"]
    child = subprocess.run(command, capture_output=True, text=True)
    return {"thread": done == [1], "fork": forked == 7, "subprocess": child.stdout.split()}

def handler(event, context):
    mode = [line.split()[1] for line in open("/proc/self/status") if line.startswith("Seccomp:")]
    return {"attacks": attacks(), "works": still_works(), "seccomp": mode}
"""
DENIED = {
    "clone user namespace": "EPERM",
    "unshare user namespace": "EPERM",
    "keyctl": "EPERM",
    "add_key": "EPERM",
    "ptrace": "EPERM",
    "process_vm_readv": "EPERM",
}
WORKS = {"thread": True, "fork": True, "subprocess": ["Seccomp:", "2"]}


def _invoke(lam: Any, name: str) -> dict[str, Any]:
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    body: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def test_a_handler_cannot_make_the_denied_system_calls(lam: Any) -> None:
    create_function(lam, "seccomp-attacks", python_function(ATTACKS), Timeout=30)
    seen = _invoke(lam, "seccomp-attacks")
    assert seen == {"attacks": DENIED, "works": WORKS, "seccomp": ["2"]}


def _snapstart_version(lam: Any, name: str, source: str) -> str:
    """``name`` with SnapStart, published, its snapshot made: the qualified name to invoke."""
    create_function(
        lam,
        name,
        python_function(source),
        runtime="python3.12",
        SnapStart={"ApplyOn": "PublishedVersions"},
        Timeout=30,
    )
    version = lam.publish_version(FunctionName=name)["Version"]
    deadline = time.monotonic() + 60
    while lam.get_function_configuration(FunctionName=name, Qualifier=version)["State"] == "Pending":
        assert time.monotonic() < deadline, "the snapshot was never made"
        time.sleep(0.05)
    return f"{name}:{version}"


def test_a_snapstart_restore_is_filtered_too(lam: Any) -> None:
    seen = _invoke(lam, _snapstart_version(lam, "seccomp-restored", ATTACKS))
    assert seen == {"attacks": DENIED, "works": WORKS, "seccomp": ["2"]}


AT_INIT = (
    ATTACKS
    + """
SEEN_AT_INIT = {  # in the SnapStart template, root of its own user namespace
    "attacks": attacks(),
    "seccomp": [line.split()[1] for line in open("/proc/self/status") if line.startswith("Seccomp:")],
}

def handler(event, context):
    return SEEN_AT_INIT
"""
)


def test_a_snapstart_templates_init_code_is_filtered_too(lam: Any) -> None:
    seen = _invoke(lam, _snapstart_version(lam, "seccomp-template", AT_INIT))
    assert seen == {"attacks": DENIED, "seccomp": ["2"]}
