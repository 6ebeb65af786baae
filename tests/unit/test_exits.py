"""How a process ended, in Go's ``ProcessState.String()`` words, as Lambda prints them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from flare.sandbox import exits


def exited(code: int) -> int:
    """The raw wait status of a process that called ``exit(code)``."""
    return (code & 0xFF) << 8


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (exited(0), "exit status 0"),
        (exited(1), "exit status 1"),
        (exited(3), "exit status 3"),
        (exited(255), "exit status 255"),
        (signal.SIGKILL, "signal: killed"),
        (signal.SIGTERM, "signal: terminated"),
        (signal.SIGSEGV, "signal: segmentation fault"),
        (signal.SIGABRT, "signal: aborted"),
        (signal.SIGBUS, "signal: bus error"),
        (signal.SIGFPE, "signal: floating point exception"),
        (signal.SIGILL, "signal: illegal instruction"),
        (signal.SIGINT, "signal: interrupt"),
        (signal.SIGHUP, "signal: hangup"),
        (signal.SIGPIPE, "signal: broken pipe"),
        (-1, "exit status unknown"),
    ],
)
def test_describe_words_raw_wait_statuses_like_lambda(status: int, text: str) -> None:
    assert exits.describe(status) == text


@pytest.mark.parametrize(
    ("sig", "text"),
    [
        (signal.SIGUSR1, "signal: user defined signal 1"),
        (signal.SIGQUIT, "signal: quit"),
        (signal.SIGALRM, "signal: alarm clock"),
        (signal.SIGXCPU, "signal: CPU time limit exceeded"),
        (signal.SIGXFSZ, "signal: file size limit exceeded"),
    ],
)
def test_describe_words_other_signals_as_go_does(sig: signal.Signals, text: str) -> None:
    assert exits.describe(sig) == text


def test_exit_error_wraps_the_description() -> None:
    assert exits.exit_error(exited(3)) == "Runtime exited with error: exit status 3"
    assert exits.exit_error(signal.SIGKILL) == "Runtime exited with error: signal: killed"


@pytest.mark.parametrize("status", [exited(0), exited(1), signal.SIGKILL, -1])
def test_every_exit_is_a_runtime_exit_error(status: int) -> None:
    assert exits.error_type(status) == "Runtime.ExitError"


def wait_status_of(code: str) -> int:
    """Run ``python -c code`` and return its raw wait status."""
    process = subprocess.Popen([sys.executable, "-c", code])
    _, status = os.waitpid(process.pid, 0)
    process.returncode = 0  # reaped above; keep Popen from waiting again
    return status


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("import os; os._exit(3)", "exit status 3"),
        ("import sys; sys.exit(0)", "exit status 0"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "signal: killed"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGTERM)", "signal: terminated"),
        (
            "import os, resource, signal; resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
            "signal.signal(signal.SIGSEGV, signal.SIG_DFL); os.kill(os.getpid(), signal.SIGSEGV)",
            "signal: segmentation fault",
        ),
    ],
)
def test_describe_real_subprocess_endings(code: str, text: str) -> None:
    assert exits.describe(wait_status_of(code)) == text


@pytest.mark.parametrize(
    ("how", "text"),
    [("exit", "exit status 3"), ("kill", "signal: killed")],
)
def test_describe_real_forked_child_endings(how: str, text: str) -> None:
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            if how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert exits.describe(status) == text


def test_peak_rss_of_this_process_is_positive_and_of_a_missing_pid_is_zero() -> None:
    assert exits.peak_rss_kb(os.getpid()) > 0
    assert exits.peak_rss_kb(2**22 + 12345) == 0
