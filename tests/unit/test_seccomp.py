"""The handlers' seccomp filter, run on a small classic-BPF interpreter: what each system call
gets, per architecture; and its numbers against the kernel headers when the host has them."""

from __future__ import annotations

import errno
import re
import struct
from pathlib import Path

import pytest

from flare.runtimes.lambda_python.seccomp import (
    AARCH64,
    ARCHES,
    CLONE_NEWUSER,
    DENIED,
    NO_NEW_USER_NAMESPACE,
    SECCOMP_RET_ALLOW,
    SECCOMP_RET_ERRNO,
    SECCOMP_RET_KILL_PROCESS,
    UNSUPPORTED,
    X86_64,
    program,
)

EPERM = SECCOMP_RET_ERRNO | errno.EPERM
ENOSYS = SECCOMP_RET_ERRNO | errno.ENOSYS
ALLOW, KILL = SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS
CLONE_NEWNS = 0x00020000


def run(machine: str, nr: int, arg0: int = 0, arch: int | None = None) -> int:
    """What the filter of ``machine`` answers to system call ``nr`` with ``arg0``."""
    code = program(machine)
    assert code is not None
    data = struct.pack("<iIQ6Q", nr, ARCHES[machine][0] if arch is None else arch, 0, arg0, 0, 0, 0, 0, 0)
    ops: list[tuple[int, int, int, int]] = [
        struct.unpack("HBBI", code[i : i + 8]) for i in range(0, len(code), 8)
    ]
    accumulator, pc = 0, 0
    while True:
        op, jt, jf, k = ops[pc]
        if op == 0x20:  # ld [k]
            (accumulator,) = struct.unpack_from("<I", data, k)
        elif op == 0x06:  # ret k
            return k
        else:
            taken = {0x15: accumulator == k, 0x35: accumulator >= k, 0x45: bool(accumulator & k)}[op]
            pc += jt if taken else jf
        pc += 1


@pytest.mark.parametrize("machine", sorted(ARCHES))
def test_every_denied_call_gets_eperm_and_others_are_allowed(machine: str) -> None:
    numbers = ARCHES[machine][2]
    for name in DENIED:
        if name in numbers:
            assert run(machine, numbers[name]) == EPERM, name
    for name in UNSUPPORTED:
        assert run(machine, numbers[name]) == ENOSYS, name
    special = set(numbers.values())
    for nr in (n for n in range(0, 460) if n not in special):
        assert run(machine, nr) == ALLOW, nr


@pytest.mark.parametrize("machine", sorted(ARCHES))
@pytest.mark.parametrize("name", NO_NEW_USER_NAMESPACE)
@pytest.mark.parametrize(
    ("flags", "answer"),
    [
        (0, ALLOW),
        (CLONE_NEWNS, ALLOW),
        (17, ALLOW),
        (CLONE_NEWUSER, EPERM),
        (CLONE_NEWUSER | CLONE_NEWNS | 17, EPERM),
    ],
)
def test_unshare_and_clone_are_refused_only_a_user_namespace(
    machine: str, name: str, flags: int, answer: int
) -> None:
    assert run(machine, ARCHES[machine][2][name], flags) == answer


@pytest.mark.parametrize("machine", sorted(ARCHES))
def test_another_architecture_is_killed(machine: str) -> None:
    assert run(machine, 0, arch=0x40000003) == KILL  # i386's numbers mean other calls


def test_x32_calls_are_refused_on_x86_64() -> None:
    assert run("x86_64", 0x40000000) == EPERM  # x32's read
    assert run("x86_64", 0x40000000 | X86_64["mount"]) == EPERM


def test_a_machine_without_a_table_has_no_filter() -> None:
    assert program("riscv64") is None


def test_every_name_has_a_number_on_every_machine_but_the_x86_only_ones() -> None:
    wanted = set(DENIED) | set(NO_NEW_USER_NAMESPACE) | set(UNSUPPORTED)
    assert set(X86_64) == wanted
    assert set(AARCH64) == wanted - {"iopl", "ioperm"}


HEADERS = {
    "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    "aarch64": Path("/usr/include/asm-generic/unistd.h"),
}


@pytest.mark.parametrize("machine", sorted(HEADERS))
def test_numbers_match_the_kernel_headers(machine: str) -> None:
    header = HEADERS[machine]
    if not header.is_file():
        pytest.skip(f"{header} not installed")
    defined = {name: int(nr) for name, nr in re.findall(r"#define __NR_(\w+)\s+(\d+)\b", header.read_text())}
    numbers = ARCHES[machine][2]
    assert {name: defined.get(name) for name in numbers} == numbers
