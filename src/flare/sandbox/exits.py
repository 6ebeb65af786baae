"""How a process ended, in the words Lambda uses (Go's ``ProcessState.String()``)."""

from __future__ import annotations

import os
import signal

_SIGNAL_WORDS = {
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe",
    signal.SIGQUIT: "quit",
    signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2",
    signal.SIGALRM: "alarm clock",
    signal.SIGSYS: "bad system call",
    signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded",
    signal.SIGVTALRM: "virtual timer expired",
    signal.SIGPROF: "profiling timer expired",
    signal.SIGSTKFLT: "stack fault",
    signal.SIGIO: "I/O possible",
    signal.SIGPWR: "power failure",
    signal.SIGURG: "urgent I/O condition",
    signal.SIGWINCH: "window changed",
    signal.SIGTTIN: "stopped (tty input)",
    signal.SIGTTOU: "stopped (tty output)",
}


def describe(status: int) -> str:
    """``exit status 1`` or ``signal: killed`` for a raw wait status (-1: unknown)."""
    if status < 0:
        return "exit status unknown"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            word = _SIGNAL_WORDS.get(signal.Signals(sig), signal.Signals(sig).name.lower())
        except ValueError:
            word = f"signal {sig}"
        return f"signal: {word}"
    return f"exit status {os.WEXITSTATUS(status)}"


def exit_error(status: int) -> str:
    return f"Runtime exited with error: {describe(status)}"


def error_type(status: int) -> str:
    """Lambda reports every runtime exit during an invoke as ``Runtime.ExitError``."""
    return "Runtime.ExitError"


def peak_rss_kb(pid: int) -> int:
    """VmHWM of a process, from /proc (0 when unreadable)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0
