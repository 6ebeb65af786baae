"""A seccomp filter for handlers: the system calls a function has no business making fail with
EPERM, as in Lambda's sandbox, whatever privileges a trick might have won it.

Denied (``EPERM``): mounting and its new API (mount, umount2, pivot_root, fsopen, fsconfig,
fsmount, fspick, open_tree, move_mount, mount_setattr), kexec_load, kexec_file_load, modules
(init_module, finit_module, delete_module), bpf, the kernel keyrings (keyctl, add_key,
request_key), ptrace and process_vm_readv/writev, setns, ``unshare`` and ``clone`` with
``CLONE_NEWUSER`` (a user namespace would hand the function every capability inside it; other
flags still work), chroot, swapon/swapoff, reboot, sethostname/setdomainname, acct, quotactl,
syslog, perf_event_open, userfaultfd, open_by_handle_at, lookup_dcookie, iopl/ioperm. ``clone3``
answers ``ENOSYS``: its flags sit behind a pointer a filter cannot read, and the C library then
falls back to ``clone``, whose flags it can. On x86_64 the x32 system calls are denied too; a
process of any other architecture (a 32-bit binary) is killed: its numbers mean other calls.

The filter is a classic BPF program built here from tables (a binary search over the numbers
it refuses), once per zygote (``PROGRAM``, with everything ``install`` needs), and installed
with ``prctl(PR_SET_SECCOMP)`` in each environment's runtime process after its sandbox is built
and its privileges are dropped (``no_new_privs`` is set by then), before any code of the
function runs; every process it starts inherits it, across ``execve`` too. Installing it costs
a cold start about 0.1 ms (the kernel checks the program and caches the calls it always allows,
which then skip it); a warm invocation nothing measurable.
A SnapStart template runs the function's INIT code too, as root of its own user namespace
(it must still build each restore's mount and pid namespaces). It installs ``TEMPLATE_PROGRAM``
before that code: the same filter but for the calls a restore's set-up needs after INIT
(``mount`` of its /proc, ``move_mount`` of its /tmp, ``setns`` back into the template's own
pid namespace after forking one into a new one; a template's capabilities reach only its own
namespaces), each restore then adding the handlers' filter on top (filters stack; the
strictest answer wins).
Stdlib and ctypes only, Python 3.9-compatible: it runs in every zygote.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
from typing import Dict, List, Optional, Tuple

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
CLONE_NEWUSER = 0x10000000
X32_SYSCALL_BIT = 0x40000000

# classic BPF opcodes
LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
RET_K = 0x06  # BPF_RET | BPF_K
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
NR_OFFSET, ARCH_OFFSET, ARG0_LOW_OFFSET = 0, 4, 16  # little-endian: args[0]'s low half first

DENIED = (
    "mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "open_tree",
    "move_mount", "mount_setattr", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "bpf", "keyctl", "add_key", "request_key", "ptrace", "process_vm_readv",
    "process_vm_writev", "setns", "chroot", "swapon", "swapoff", "reboot", "sethostname",
    "setdomainname", "acct", "quotactl", "syslog", "perf_event_open", "userfaultfd",
    "open_by_handle_at", "lookup_dcookie", "iopl", "ioperm",
)  # fmt: skip
NO_NEW_USER_NAMESPACE = ("unshare", "clone")  # denied only with CLONE_NEWUSER in args[0]
TEMPLATE_KEPT = ("mount", "move_mount", "setns")  # what a template makes restores with, after INIT
UNSUPPORTED = ("clone3",)  # ENOSYS: the C library falls back to clone

# (audit arch, x32 bit to refuse?, numbers) per machine
X86_64 = {
    "ptrace": 101, "syslog": 103, "clone": 56, "pivot_root": 155, "chroot": 161, "acct": 163,
    "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169,
    "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173, "init_module": 175,
    "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212, "kexec_load": 246,
    "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
    "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
    "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "clone3": 435, "mount_setattr": 442,
}  # fmt: skip
AARCH64 = {
    "lookup_dcookie": 18, "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51,
    "quotactl": 60, "acct": 89, "unshare": 97, "kexec_load": 104, "init_module": 105,
    "delete_module": 106, "syslog": 116, "ptrace": 117, "reboot": 142, "sethostname": 161,
    "setdomainname": 162, "add_key": 217, "request_key": 218, "keyctl": 219, "clone": 220,
    "swapon": 224, "swapoff": 225, "perf_event_open": 241, "open_by_handle_at": 265,
    "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271, "finit_module": 273,
    "bpf": 280, "userfaultfd": 282, "kexec_file_load": 294, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "clone3": 435,
    "mount_setattr": 442,
}  # fmt: skip
ARCHES: Dict[str, Tuple[int, bool, Dict[str, int]]] = {
    "x86_64": (0xC000003E, True, X86_64),
    "aarch64": (0xC00000B7, False, AARCH64),
}

# an instruction before its jumps are resolved: (code, true label, false label, k)
_Op = Tuple[int, Optional[str], Optional[str], int]


def program(machine: str, kept: Tuple[str, ...] = ()) -> Optional[bytes]:
    """The filter for ``machine`` (``platform.machine()``) as packed ``sock_filter``s, or None
    for a machine without a table; ``kept``: calls of ``DENIED`` it lets through. Pure."""
    if machine not in ARCHES:
        return None
    arch, x32, numbers = ARCHES[machine]
    ops: List[Tuple[Optional[str], _Op]] = [
        (None, (LD_W_ABS, None, None, ARCH_OFFSET)),
        (None, (JEQ_K, None, "kill", arch)),
        ("syscall", (LD_W_ABS, None, None, NR_OFFSET)),
    ]
    if x32:
        ops.append((None, (JGE_K, "deny", None, X32_SYSCALL_BIT)))
    special = [(numbers[name], "deny") for name in DENIED if name in numbers and name not in kept]
    special += [(numbers[name], "flags") for name in NO_NEW_USER_NAMESPACE]
    special += [(numbers[name], "enosys") for name in UNSUPPORTED]
    _search(sorted(special), ops)
    ops += [
        ("flags", (LD_W_ABS, None, None, ARG0_LOW_OFFSET)),
        (None, (JSET_K, "deny", None, CLONE_NEWUSER)),
        (None, (RET_K, None, None, SECCOMP_RET_ALLOW)),
        ("deny", (RET_K, None, None, SECCOMP_RET_ERRNO | errno.EPERM)),
        ("enosys", (RET_K, None, None, SECCOMP_RET_ERRNO | errno.ENOSYS)),
        ("kill", (RET_K, None, None, SECCOMP_RET_KILL_PROCESS)),
    ]
    return _assemble(ops)


def _search(special: List[Tuple[int, str]], ops: List[Tuple[Optional[str], _Op]]) -> None:
    """Append a binary search of the sorted ``(number, label)`` pairs: each leaf compares a few
    numbers and allows the rest. About six comparisons a call instead of one per number, which
    also keeps the kernel's check of the filter at attach time (it runs it for every system
    call number, to cache those always allowed) short."""
    if len(special) <= 4:
        ops += [(None, (JEQ_K, label, None, number)) for number, label in special]
        ops.append((None, (RET_K, None, None, SECCOMP_RET_ALLOW)))
        return
    middle = len(special) // 2
    upper = f"from-{special[middle][0]}"
    ops.append((None, (JGE_K, upper, None, special[middle][0])))
    _search(special[:middle], ops)
    start = len(ops)
    _search(special[middle:], ops)
    ops[start] = (upper, ops[start][1])


def _assemble(ops: List[Tuple[Optional[str], _Op]]) -> bytes:
    """Pack ``ops``, turning each jump's labels into offsets (a missing one: the next op)."""
    where = {label: index for index, (label, _) in enumerate(ops) if label is not None}
    packed = []
    for index, (_, (code, true, false, k)) in enumerate(ops):
        jt = where[true] - index - 1 if true is not None else 0
        jf = where[false] - index - 1 if false is not None else 0
        assert 0 <= jt < 256 and 0 <= jf < 256, "a jump too long for classic BPF"
        packed.append(struct.pack("HBBI", code, jt, jf, k))
    return b"".join(packed)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _Loaded:
    """A program ready for ``prctl``. Made in the zygote, before it forks: in a freshly forked
    child, making it (ctypes' first touches of copied pages) cost ~0.4 ms of its cold start;
    ``prctl`` itself ~0.1 ms."""

    def __init__(self, packed: Optional[bytes]) -> None:
        self.packed = packed
        self._buffer = ctypes.create_string_buffer(packed or b"", len(packed or b""))
        self._fprog = _Fprog(len(packed or b"") // 8, ctypes.addressof(self._buffer))
        self.pointer = ctypes.byref(self._fprog)


PROGRAM = program(platform.machine())
TEMPLATE_PROGRAM = program(platform.machine(), TEMPLATE_KEPT)
_LIBC = ctypes.CDLL(None, use_errno=True)
_HANDLERS = _Loaded(PROGRAM)
_TEMPLATES = _Loaded(TEMPLATE_PROGRAM)


def install() -> None:
    """Install the handlers' filter on this thread (and so on everything it starts). Needs
    ``no_new_privs`` or CAP_SYS_ADMIN; raises OSError when refused or on a machine without a
    table (a sandbox that cannot have its filter does not start)."""
    _install(_HANDLERS)


def install_template() -> None:
    """Install a SnapStart template's filter (see the module docstring), as ``install``."""
    _install(_TEMPLATES)


def _install(loaded: _Loaded) -> None:
    if loaded.packed is None:
        raise OSError(errno.ENOSYS, f"no seccomp table for {platform.machine()}")
    if _LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, loaded.pointer, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"seccomp: {errno.errorcode.get(code, code)}")
