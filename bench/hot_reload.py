"""Hot reload: from a saved edit to the first invoke that answers with the new code.

One ``flare serve``; a Python function (python3.11) bound to a temporary directory (``Code``
``S3Bucket: hot-reload``, ``S3Key: <dir>``). Each edit rewrites ``app.py`` as an editor saves
(a new file renamed over the old) with a new number in its answer; the clock starts right after
the rename, and invokes are sent on one keep-alive connection, one every ``POLL_S``, until one
answers with the new number. So a sample is: the file watcher's quiet step, the snapshot (zip,
store, unpack), the registry's update, and a cold start of the new code, plus at most one poll
interval. Edits are ``PAUSE_S`` apart, so each is its own change.

The same edits are measured under ``flare dev`` (the issue's done-when: "editing a handler file
with ``flare dev`` running changes the next invoke's answer"): ``flare dev DIR`` started on a
free port (it starts its own engine), the function is the directory of functions' one
(``app.py``, python3.12, 128 MB); stopped with SIGINT as a user's Ctrl-C.
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bench import harness, measure
from bench.measure import Connection, Endpoint, LatencyStats

FUNCTION = "bench-hot-reload"
DEV_FUNCTION = "bench-dev"  # the directory ``flare dev`` runs, so the function's name
POLL_S = 0.002
PAUSE_S = 0.3
GIVE_UP_S = 10.0
SOURCE = 'def handler(event, context):\n    return {{"ok": True, "n": {n}}}\n'
LOCALSTACK_DOCUMENTED_MS = 700


@dataclass
class HotReloadRun:
    memory_mb: int
    label: str = ""  # the row's name; "" for "<memory_mb> MB"
    stats: LatencyStats | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.label or f"{self.memory_mb} MB"


@dataclass
class HotReloadResult:
    edits: int
    runs: list[HotReloadRun] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(run.error for run in self.runs)


def save(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as an editor saves: a new file renamed over the old one."""
    temporary = path.with_name(f".{path.name}.saving")
    temporary.write_text(text)
    temporary.rename(path)


def until_answer(conn: Connection, wanted: bytes) -> None:
    """Invoke every ``POLL_S`` until an answer holds ``wanted``; InvokeError after
    ``GIVE_UP_S``."""
    deadline = time.perf_counter() + GIVE_UP_S
    while True:
        response = conn.invoke()
        measure.check_ok(response)
        if wanted in response.body:
            return
        if time.perf_counter() > deadline:
            raise measure.InvokeError(f"no answer with {wanted!r} after {GIVE_UP_S} s")
        time.sleep(POLL_S)


def edit_to_answer(directory: Path, endpoint: Endpoint, edits: int) -> LatencyStats:
    """``edits`` samples of saved edit → first invoke answering with it (seconds in, ms out)."""
    samples: list[float] = []
    with Connection(endpoint) as conn:
        until_answer(conn, b'"n": 0')
        for n in range(1, edits + 1):
            time.sleep(PAUSE_S)
            save(directory / "app.py", SOURCE.format(n=n))
            started = time.perf_counter()
            until_answer(conn, f'"n": {n}'.encode())
            samples.append(time.perf_counter() - started)
    return LatencyStats.from_seconds(samples)


def _create(client: Any, directory: Path, memory_mb: int) -> None:
    client.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.11",
        Role=harness.ROLE,
        Handler="app.handler",
        Code={"S3Bucket": "hot-reload", "S3Key": str(directory)},
        MemorySize=memory_mb,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=FUNCTION)


def hot_reload_run(memory_mb: int, edits: int) -> HotReloadRun:
    run = HotReloadRun(memory_mb)
    with tempfile.TemporaryDirectory(prefix="flare-bench-hot-") as tmp:
        log, directory = Path(tmp) / "flare.log", Path(tmp) / "code"
        directory.mkdir()
        save(directory / "app.py", SOURCE.format(n=0))
        try:
            with harness.flare_server(Path(tmp) / "data", log) as server:
                _create(harness.lambda_client(server.url), directory, memory_mb)
                run.stats = edit_to_answer(directory, Endpoint(server.host, server.port, FUNCTION), edits)
        except (harness.ServerError, measure.InvokeError, OSError, BotoCoreError, ClientError) as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            run.error = f"{type(exc).__name__}: {exc}\n{tail}"
    return run


def dev_run(edits: int) -> HotReloadRun:
    """``edits`` samples of saved edit → first invoke answering with it under ``flare dev``."""
    run = HotReloadRun(128, "`flare dev`, python3.12, 128 MB")
    with tempfile.TemporaryDirectory(prefix="flare-bench-dev-") as tmp:
        log, project = Path(tmp) / "dev.log", Path(tmp) / DEV_FUNCTION
        project.mkdir()
        save(project / "app.py", SOURCE.format(n=0))
        port = harness.free_port()
        argv = [str(harness.FLARE_BIN), "dev", str(project), "--endpoint-url", f"http://127.0.0.1:{port}"]
        argv += ["--no-build", "--data-dir", str(Path(tmp) / "data")]

        def ready() -> bool:
            return "watching for changes" in log.read_text(errors="replace")

        try:
            with harness.running("flare dev", argv, port=port, log_path=log, timeout=60, ready=ready) as dev:
                run.stats = edit_to_answer(project, Endpoint(dev.host, dev.port, DEV_FUNCTION), edits)
                dev.process.send_signal(signal.SIGINT)
                dev.process.wait(60)
        except (harness.ServerError, measure.InvokeError, OSError, subprocess.TimeoutExpired) as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            run.error = f"{type(exc).__name__}: {exc}\n{tail}"
    return run


def run(edits: int, progress: Callable[[str], None]) -> HotReloadResult:
    result = HotReloadResult(edits)
    for memory_mb in (128, 1024):
        progress(f"hot reload: {edits} edits of a python3.11 handler at {memory_mb} MB")
        result.runs.append(hot_reload_run(memory_mb, edits))
    progress(f"hot reload: {edits} edits of a python3.12 handler under flare dev")
    result.runs.append(dev_run(edits))
    return result


def _row(run: HotReloadRun) -> str:
    if run.stats is None:
        return f"| {run.name} | - | - | - | - | - |"
    s = run.stats
    cells = (f"{value:.1f}" for value in (s.p50_ms, s.p99_ms, s.mean_ms, s.max_ms))
    return f"| {run.name} | {' | '.join(cells)} | {s.count} |"


def render(result: HotReloadResult) -> str:
    """The markdown sub-section: one row per memory size, then the notes."""
    lines = [
        "### Hot reload: saved edit → first invoke with the new code",
        "",
        "| function | p50 (ms) | p99 (ms) | mean (ms) | max (ms) | edits |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *(_row(run) for run in result.runs),
        "",
        "- python3.11 handler bound with `Code={S3Bucket: hot-reload, S3Key: <dir>}`; each edit renames a "
        f"new `app.py` over the old; invokes every {POLL_S * 1000:.0f} ms on one connection until the "
        f"answer changes; edits {PAUSE_S * 1000:.0f} ms apart",
        "- includes the watcher's quiet step (20 ms), the snapshot and a cold start of the new code; "
        f"target p50 ≤ 150 ms (LocalStack documents up to {LOCALSTACK_DOCUMENTED_MS} ms)",
        "- `flare dev` row: `flare dev DIR` (a directory of functions: one `app.py`) with the engine it "
        "started; the same edits and polling",
    ]
    for failed in (run for run in result.runs if run.error):
        assert failed.error is not None
        lines.append(f"- {failed.name}: not measured: {failed.error.splitlines()[0]}")
        lines += ["", "```", *failed.error.splitlines()[1:], "```"]
    return "\n".join(lines) + "\n"
