"""Which JDK runs a ``javaNN`` function, its JVM's command line, and the JDK configuration the
sandbox's ``/etc`` carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from flare.sandbox.etc_tree import Link, tree_for
from flare.sandbox.java_runtime import (
    JavaHomes,
    doctor_lines,
    find_java_homes,
    has_crac,
    java_argv,
    major_of_home,
    wanted_major,
)
from flare.sandbox.launcher import plan_launch


def fake_jdk(root: Path, name: str, version: str) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\n')
    return java


@pytest.mark.parametrize(
    ("runtime", "major"),
    [("java17", 17), ("java21", 21), ("java8.al2", 8), ("python3.12", None), ("java", None)],
)
def test_the_wanted_major_comes_from_the_runtime_name(runtime: str, major: int | None) -> None:
    assert wanted_major(runtime) == major


def test_a_jdks_major_is_read_from_its_release_file(tmp_path: Path) -> None:
    java = fake_jdk(tmp_path, "jdk8", "1.8.0_402")
    assert major_of_home(java.parent.parent) == 8
    java = fake_jdk(tmp_path, "jdk25", "25.0.3")
    assert major_of_home(java.parent.parent) == 25
    assert major_of_home(tmp_path / "nothing") is None


def test_jdks_are_found_by_major(tmp_path: Path) -> None:
    seventeen = fake_jdk(tmp_path, "a17", "17.0.15")
    twenty_five = fake_jdk(tmp_path, "b25", "25.0.3")
    homes = find_java_homes((str(seventeen.parent.parent), str(twenty_five.parent.parent)))
    assert homes.by_major[17] == seventeen.resolve()
    assert homes.by_major[25] == twenty_five.resolve()


def test_the_exact_jdk_else_the_nearest_newer_else_the_hosts() -> None:
    homes = JavaHomes({17: Path("/j17/bin/java"), 25: Path("/j25/bin/java")}, Path("/j17/bin/java"), 17)
    assert homes.choose(17) == (Path("/j17/bin/java"), 17)
    assert homes.choose(21) == (Path("/j25/bin/java"), 25)
    assert homes.choose(11) == (Path("/j17/bin/java"), 17)
    assert homes.choose(26) == (Path("/j17/bin/java"), 17)
    assert JavaHomes().choose(21) == (None, None)


def test_a_launch_plan_names_the_java_and_says_when_it_is_not_the_runtimes() -> None:
    homes = JavaHomes({17: Path("/j17/bin/java"), 25: Path("/j25/bin/java")}, Path("/j17/bin/java"), 17)
    exact = plan_launch("java17", {}, javas=homes)
    assert (exact.mode, exact.java, exact.note, exact.language) == (
        "exec",
        Path("/j17/bin/java"),
        None,
        Path("/j17/bin/java"),
    )
    newer = plan_launch("java21", {}, javas=homes)
    assert newer.java == Path("/j25/bin/java")
    assert newer.note == "flare: java21 is not installed on this host; running on java25 instead"
    assert plan_launch("java21", {}, javas=JavaHomes()).java is None


def test_the_jvm_gets_lambdas_options_sized_from_the_memory() -> None:
    argv = java_argv("/var/lang/bin/java", "/var/sdk", 512, 17, "/opt")
    assert argv[0] == "/var/lang/bin/java"
    assert "-XX:MaxHeapSize=445644k" in argv  # 85% of 512 MB
    assert {"-XX:+UseSerialGC", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-Dflare.optDir=/opt"} <= set(argv)
    assert argv[-3:] == ["-cp", "/var/sdk/java/flare-runtime.jar", "flare.runtime.Main"]
    assert "-XX:TieredStopAtLevel=1" not in java_argv("java", "/sdk", 512, 11)  # Lambda's default from 17


def test_the_sandbox_etc_carries_the_jdks_configuration(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    (etc / "java-17-openjdk" / "security").mkdir(parents=True)
    (etc / "java-17-openjdk" / "security" / "java.security").write_text(
        "securerandom.source=file:/dev/urandom\n"
    )
    (etc / "java-17-openjdk" / "jvm-amd64.cfg").symlink_to("/elsewhere/jvm.cfg")
    (etc / "ssl" / "certs" / "java").mkdir(parents=True)
    (etc / "ssl" / "certs" / "java" / "cacerts").write_bytes(b"store")
    (etc / "unrelated").mkdir()
    (etc / "unrelated" / "secret").write_text("no")
    tree = tree_for("default", etc, "", "")
    assert tree["java-17-openjdk/security/java.security"] == b"securerandom.source=file:/dev/urandom\n"
    assert tree["java-17-openjdk/jvm-amd64.cfg"] == Link("/elsewhere/jvm.cfg")
    assert tree["ssl/certs/java/cacerts"] == b"store"
    assert not any(path.startswith("unrelated") for path in tree)


def test_doctor_lists_the_jdks_and_says_why_snapstart_for_java_is_off(tmp_path: Path) -> None:
    plain = fake_jdk(tmp_path, "plain", "17.0.1")
    crac = fake_jdk(tmp_path, "crac", "21.0.2")
    (crac.parent.parent / "release").write_text('JAVA_VERSION="21.0.2"\nMODULES="java.base jdk.crac"\n')
    assert has_crac(crac) and not has_crac(plain)
    lines = doctor_lines(JavaHomes({17: plain, 21: crac}, plain, 17))
    assert lines[1] == f"  yes  JDK 17: {plain.parent.parent} (no CRaC)"
    assert lines[2] == f"  yes  JDK 21: {crac.parent.parent} (with CRaC)"
    assert lines[3].startswith("  OFF  SnapStart for Java — ") and "CRaC" in lines[3]
