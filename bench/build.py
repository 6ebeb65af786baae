"""Build steps: what ``flare deploy DIR`` costs with a requirements.txt, on a cache miss and a hit.

One ``flare serve``; a python3.12 function whose ``requirements.txt`` names one small wheel
(``tomli``). Each sample is the wall time of a whole ``flare deploy`` process (start-up, build,
zip, upload, wait until updated): a **miss** with an empty build cache each time (pip runs: its
own download cache may be warm, as on a developer's machine), a **hit** with the cache filled
(pip does not run), and ``--no-build`` as the baseline. Needs PyPI (or the host's pip mirror).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import harness
from bench.measure import LatencyStats

FUNCTION = "bench-build"
REQUIREMENTS = "tomli==2.0.1\n"
SOURCE = "import tomli\ndef handler(event, context):\n    return tomli.loads('a = 1')\n"
SAMPLES = 5


@dataclass
class BuildResult:
    rows: dict[str, LatencyStats] = field(default_factory=dict)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def deploy_seconds(url: str, code: Path, cache: Path, *extra: str) -> float:
    """The wall time of one ``flare deploy`` of ``code`` with the build cache ``cache``.
    Raises CalledProcessError when it fails."""
    command = [str(harness.FLARE_BIN), "deploy", FUNCTION, str(code), "--handler", "app.handler"]
    command += ["--runtime", "python3.12", "--endpoint-url", url, *extra]
    started = time.perf_counter()
    subprocess.run(
        command, check=True, capture_output=True, env={**os.environ, "FLARE_BUILD_CACHE": str(cache)}
    )
    return time.perf_counter() - started


def run(progress: Callable[[str], None]) -> BuildResult:
    result = BuildResult()
    progress(f"build: {SAMPLES} deploys each of a function with a requirements.txt: miss, hit, --no-build")
    with tempfile.TemporaryDirectory(prefix="flare-bench-build-") as tmp:
        code, log = Path(tmp) / "code", Path(tmp) / "flare.log"
        code.mkdir()
        (code / "app.py").write_text(SOURCE)
        (code / "requirements.txt").write_text(REQUIREMENTS)
        try:
            with harness.flare_server(Path(tmp) / "data", log) as server:
                misses = [deploy_seconds(server.url, code, Path(tmp) / f"miss-{i}") for i in range(SAMPLES)]
                hits = [deploy_seconds(server.url, code, Path(tmp) / "miss-0") for _ in range(SAMPLES)]
                plain = [
                    deploy_seconds(server.url, code, Path(tmp) / "none", "--no-build") for _ in range(SAMPLES)
                ]
        except (harness.ServerError, subprocess.CalledProcessError, OSError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            return result
    result.rows = {
        "cache miss (pip runs)": LatencyStats.from_seconds(misses),
        "cache hit": LatencyStats.from_seconds(hits),
        "--no-build": LatencyStats.from_seconds(plain),
    }
    return result


def render(result: BuildResult) -> str:
    """The markdown sub-section: one row per case."""
    lines = [
        "### Build steps: `flare deploy DIR` with a requirements.txt",
        "",
        "| deploy | p50 (ms) | max (ms) | deploys |",
        "| --- | ---: | ---: | ---: |",
        *(f"| {name} | {s.p50_ms:.0f} | {s.max_ms:.0f} | {s.count} |" for name, s in result.rows.items()),
        "",
        f"- python3.12 function, `requirements.txt` = `{REQUIREMENTS.strip()}`; each sample a whole "
        "`flare deploy` process (build, zip, upload, wait); a miss starts from an empty build cache, "
        "pip's own download cache as it is",
    ]
    if result.error is not None:
        lines.append(f"- not measured: {result.error}")
    return "\n".join(lines) + "\n"
