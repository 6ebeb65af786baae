"""Link-local and instance-metadata addresses are unreachable from environments.

On a cloud host, ``169.254.169.254`` (and ``fd00:ec2::254``) answers with the *host's*
credentials, and other link-local services (a node-local DNS, a developer's metadata emulator
on ``lo``) sit in ``169.254.0.0/16`` and ``fe80::/10``. Lambda's environments reach none of them;
neither do Flare's, in the default (host) network mode too. With ``--network isolated`` an
environment has only its own loopback, so nothing needs doing there.

The mechanism is one nftables table per engine in the host's network namespace, with an
``output`` chain that rejects what the sandbox's uids (``meta skuid``: the socket owner's uid,
the ranges of ``runtimes/lambda_python/uids.py``: inits, environments, SnapStart templates and
their restores) send to those addresses: TCP with a reset, so ``connect()``
fails at once with ``ECONNREFUSED``, anything else as administratively prohibited, so
``sendto()`` fails at once with ``EPERM``. Nothing ever waits on a timeout. Matching on the uid,
it touches no other process of the host, works the same on cgroup v1 and v2 hosts (no cgroup is
involved) and costs nothing per cold start: the rules are written once, at engine start. Flare's
own endpoint (``127.0.0.1``) stays reachable. Addresses the host itself holds (a ``169.254.x.y``
on ``lo``) are refused as well: the output hook sees locally delivered packets too.

Under ``--cluster`` the same chain also refuses the cluster's Redis (each address its host name
resolves to, on its port: ``services``): it holds every function, key and secret of the cluster
and, like most Redis deployments, may take commands from whoever connects. The engine reaches
it as itself; a handler, in the default network mode, would reach it as any host process does.
Other nodes' HTTP endpoints stay reachable: they authenticate every call, as Flare's own does.

The table is named after the engine's data dir and pid (``flare_<digest>_<pid>``). Start-up
removes, in the same atomic ``nft -f -`` transaction that adds its own, every table of the same
data dir (a restart after ``kill -9`` replaces its rules rather than adding a second copy) and
every Flare table whose engine pid is gone; stop removes its own. Needs ``nft`` (Debian
``nftables``) and CAP_NET_ADMIN; where either is missing, ``apply`` says why and environments
can reach those addresses (``flare doctor`` and the start-up notes say so).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BLOCKED_V4 = ("169.254.0.0/16",)
BLOCKED_V6 = ("fe80::/10", "fd00:ec2::254")
TABLE_PREFIX = "flare_"
SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin"
NFT_TIMEOUT_S = 10.0
_TABLE = re.compile(r"flare_([0-9a-f]{12})_([0-9]+)")


def find_nft() -> str | None:
    """The ``nft`` executable, also in the sbin directories a non-login PATH may miss."""
    return shutil.which("nft", path=f"{os.environ.get('PATH', '')}:{SBIN_PATH}")


def probe_nft() -> tuple[bool, str]:
    """Whether this host accepts the rules: a dry run (``nft -c``) of them, which changes
    nothing. Returns (usable, why)."""
    nft = find_nft()
    if nft is None:
        return False, "nft not found (Debian: apt-get install nftables)"
    try:
        done = subprocess.run(
            [nft, "-c", "-f", "-"],
            input=ruleset(f"{TABLE_PREFIX}probe", (range(1, 2), range(3, 5))),
            capture_output=True,
            text=True,
            timeout=NFT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return False, f"nft: {error}"
    if done.returncode != 0:
        why = done.stderr.strip().splitlines()[0] if done.stderr.strip() else f"exit {done.returncode}"
        return False, f"nft refused the rules: {why}"
    return True, f"{nft} accepts uid-matched REJECT rules on output (dry run)"


def table_name(data_dir: Path, pid: int) -> str:
    """``flare_<12 hex digits of the data dir>_<pid>``. Pure."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return f"{TABLE_PREFIX}{digest}_{pid}"


def ruleset(table: str, uids: tuple[range, ...], services: tuple[tuple[str, int], ...] = ()) -> str:
    """The table's nftables text: an output chain rejecting the blocked addresses for the uid
    ranges ``uids`` (TCP with a reset, the rest as administratively prohibited), and TCP to each
    ``(address, port)`` of ``services`` with a reset. Pure."""
    who = f"meta skuid {{ {', '.join(f'{block.start}-{block.stop - 1}' for block in uids)} }}"
    lines = [
        f"table inet {table} {{",
        "  chain output {",
        "    type filter hook output priority filter; policy accept;",
    ]
    for family, addresses in (("ip", BLOCKED_V4), ("ip6", BLOCKED_V6)):
        wanted = f"{family} daddr {{ {', '.join(addresses)} }}"
        lines.append(f"    {who} {wanted} meta l4proto tcp reject with tcp reset")
        lines.append(f"    {who} {wanted} reject with icmpx admin-prohibited")
    for address, port in services:
        family = "ip6" if ":" in address else "ip"
        lines.append(f"    {who} {family} daddr {address} tcp dport {port} reject with tcp reset")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def stale_tables(tables: list[str], own: str, pid_alive: dict[int, bool]) -> list[str]:
    """Which of ``tables`` (names) to remove before adding ``own``: any of the same data dir
    (``own`` included, so that it is rewritten whole) and any Flare table whose engine pid is
    not alive (``pid_alive``; an unknown pid counts as alive). Pure."""
    own_match = _TABLE.fullmatch(own)
    assert own_match is not None, own
    stale = []
    for name in tables:
        found = _TABLE.fullmatch(name)
        if found is None:
            continue
        if found.group(1) == own_match.group(1) or not pid_alive.get(int(found.group(2)), True):
            stale.append(name)
    return stale


def removal(tables: list[str]) -> str:
    """nftables text removing ``tables`` (each declared first, so a missing one is no error). Pure."""
    return "".join(f"table inet {name}\ndelete table inet {name}\n" for name in tables)


@dataclass
class LinkLocalBlock:
    """The engine's table: ``apply`` at start, ``remove`` at stop."""

    data_dir: Path
    uids: tuple[range, ...]
    services: tuple[tuple[str, int], ...] = ()  # (address, port) refused too: the cluster's Redis
    nft: str | None = None
    applied: str | None = None  # the table's name once applied

    def apply(self) -> str | None:
        """Replace this data dir's rules (and sweep dead engines'). Returns None when the rules
        are in place, else why not."""
        self.nft = self.nft or find_nft()
        if self.nft is None:
            return "nft not found (Debian: apt-get install nftables)"
        own = table_name(self.data_dir, os.getpid())
        listed = self._run(["-j", "list", "tables"])
        if isinstance(listed, str):
            return listed
        names = _inet_tables(listed)
        alive = {pid: _alive(pid) for pid in _pids(names)}
        problem = self._run(
            ["-f", "-"], removal(stale_tables(names, own, alive)) + ruleset(own, self.uids, self.services)
        )
        if isinstance(problem, str):
            return problem
        self.applied = own
        return None

    def remove(self) -> None:
        """Remove this engine's table, if it was applied. Never raises."""
        if self.applied is not None:
            self._run(["-f", "-"], removal([self.applied]))
            self.applied = None

    def _run(self, args: list[str], text: str | None = None) -> subprocess.CompletedProcess[str] | str:
        """``nft args`` with ``text`` on stdin: its result, or why it failed."""
        assert self.nft is not None
        try:
            done = subprocess.run(
                [self.nft, *args],
                input=text,
                capture_output=True,
                text=True,
                timeout=NFT_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as error:
            return f"nft: {error}"
        if done.returncode != 0:
            return f"nft: {done.stderr.strip() or f'exit {done.returncode}'}"
        return done


def _inet_tables(listed: subprocess.CompletedProcess[str]) -> list[str]:
    """The names of the inet tables in ``nft -j list tables``'s answer."""
    try:
        items = json.loads(listed.stdout or "{}").get("nftables", [])
    except ValueError:
        return []
    tables = (item.get("table", {}) for item in items if isinstance(item, dict))
    return [table["name"] for table in tables if table.get("family") == "inet" and "name" in table]


def _pids(names: list[str]) -> set[int]:
    return {int(found.group(2)) for found in map(_TABLE.fullmatch, names) if found is not None}


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")
