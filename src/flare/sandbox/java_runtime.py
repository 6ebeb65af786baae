"""Which ``java`` runs a ``javaNN`` function, and how Flare's Java runtime client starts.

A ``javaNN`` runtime runs on an installed JDK of major version NN when the host has one, else on
the nearest newer one, else on the host's ``java`` (the one on ``PATH``), and the function's log
says so, as for Python and Node.js. JDKs are looked for where distributions and installers put
them (``/usr/lib/jvm/*``, ``/opt/*``, ``$JAVA_HOME``); a JDK's version is read from its ``release``
file, so looking runs nothing. The environment ``exec``s ``java`` with Flare's runtime client
(``runtimes/lambda_java/``, compiled by ``make install`` into ``<sdk>/java/flare-runtime.jar``),
which speaks the Runtime API, with the JVM options Lambda's Java bootstrap gives (``java_argv``).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

JAVA_RUNTIME = re.compile(r"^java(\d+)(?:\.al2)?$")
CLIENT_JAR = "java/flare-runtime.jar"  # under the SDK directory (/var/sdk)
CLIENT_MAIN = "flare.runtime.Main"
_RELEASE_VERSION = re.compile(r'^JAVA_VERSION="(?:1\.)?(\d+)', re.MULTILINE)
SNAPSTART_UNAVAILABLE = (
    "a JVM cannot be forked into a template as Python is; its snapshot needs a JDK with CRaC "
    "(Coordinated Restore at Checkpoint) and CRIU, which Flare does not drive yet, so java* "
    "functions refuse SnapStart"
)
_USUAL_HOMES = ("/usr/lib/jvm/*", "/opt/*jdk*", "/opt/java/*", "/usr/local/*jdk*")
HEAP_SHARE = 0.85  # of the memory size, as Lambda's Java bootstrap sets MaxHeapSize
CRAC_MODULE = "jdk.crac"  # in a JDK's release MODULES when it can checkpoint and restore


def wanted_major(runtime: str) -> int | None:
    """``21`` for ``java21``, ``8`` for ``java8.al2``; None for a runtime that is not Java."""
    match = JAVA_RUNTIME.match(runtime)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class JavaHomes:
    """The host's JDKs (their ``bin/java``) by major version, and the one on ``PATH``."""

    by_major: dict[int, Path] = field(default_factory=dict)
    host: Path | None = None
    host_major: int | None = None

    def choose(self, major: int) -> tuple[Path | None, int | None]:
        """The ``java`` for runtime ``major`` and its major: the exact one, else the nearest
        newer, else the host's; (None, None) without any."""
        if major in self.by_major:
            return self.by_major[major], major
        newer = sorted(found for found in self.by_major if found > major)
        if newer:
            return self.by_major[newer[0]], newer[0]
        return self.host, self.host_major


def major_of_home(home: Path) -> int | None:
    """A JDK's major version, from its ``release`` file; None when it has none."""
    try:
        match = _RELEASE_VERSION.search((home / "release").read_text(errors="replace"))
    except OSError:
        return None
    return int(match.group(1)) if match else None


def has_crac(java: Path) -> bool:
    """Whether the JDK of ``java`` (its ``bin/java``) has CRaC (Coordinated Restore at
    Checkpoint), read from its ``release`` file."""
    try:
        release = (java.parent.parent / "release").read_text(errors="replace")
    except OSError:
        return False
    modules = re.search(r'^MODULES="([^"]*)"', release, re.MULTILINE)
    return modules is not None and CRAC_MODULE in modules.group(1).split()


def doctor_lines(homes: JavaHomes) -> list[str]:
    """``flare doctor``'s Java section: each JDK found, then whether SnapStart for Java can work
    (Flare snapshots a JVM only through CRaC, and supports none yet) and why."""
    lines = ["Java runtimes"]
    if not homes.by_major:
        lines.append("  no  JDK: none found (java* functions fail INIT with Runtime.InvalidEntrypoint)")
    for major, java in sorted(homes.by_major.items()):
        crac = "with CRaC" if has_crac(java) else "no CRaC"
        lines.append(f"  yes  JDK {major}: {java.parent.parent} ({crac})")
    lines.append(f"  OFF  SnapStart for Java — {SNAPSTART_UNAVAILABLE}")
    return lines


def find_java_homes(extra_homes: tuple[str, ...] = ()) -> JavaHomes:
    """Look for the host's JDKs (see the module docstring); ``extra_homes`` are looked at first."""
    candidates = list(extra_homes)
    if os.environ.get("JAVA_HOME"):
        candidates.append(os.environ["JAVA_HOME"])
    for place in _USUAL_HOMES:
        candidates += sorted(glob.glob(place))
    by_major: dict[int, Path] = {}
    for candidate in candidates:
        java = Path(candidate, "bin", "java").resolve()
        major = major_of_home(java.parent.parent) if os.access(java, os.X_OK) else None
        if major is not None:
            by_major.setdefault(major, java)
    on_path = shutil.which("java")
    if on_path is None:
        return JavaHomes(by_major, None, None)
    host = Path(on_path).resolve()
    return JavaHomes(by_major, host, major_of_home(host.parent.parent))


def java_argv(
    java: str, sdk_dir: str, memory_mb: int, runtime_major: int, opt_dir: str | None = None
) -> list[str]:
    """The command line of a Java environment: ``java`` (as the environment sees it) with the
    options Lambda's Java bootstrap gives (a heap of 85% of the memory, the serial collector,
    the JDK's shared class archive when it can be used, IPv4 first, and from Java 17 on tiered
    compilation stopped at C1), then Flare's runtime client. ``JAVA_TOOL_OPTIONS``, from the
    function's variables, is read by the JVM itself and comes after these, so it can override
    them. ``opt_dir``: where the layers are (their ``java/lib/*.jar`` join the class path)."""
    argv = [
        java,
        f"-XX:MaxHeapSize={int(memory_mb * 1024 * HEAP_SHARE)}k",
        "-XX:+UseSerialGC",
        "-Xshare:auto",
        "-Djava.net.preferIPv4Stack=true",
    ]
    if runtime_major >= 17:
        argv += ["-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1"]
    if opt_dir is not None:
        argv.append(f"-Dflare.optDir={opt_dir}")
    return [*argv, "-cp", f"{sdk_dir}/{CLIENT_JAR}", CLIENT_MAIN]
