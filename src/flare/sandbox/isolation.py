"""What an environment's sandbox looks like: the layout a function sees and the plan the
environment process applies to itself (``runtimes/lambda_python/sandbox.py``).

With namespaces, a function sees Lambda's layout: code read-only at ``/var/task``, the language
runtime read-only at ``/var/lang`` (PATH starts with ``/var/lang/bin``), Flare's runtime client
at ``/var/runtime``, the SDK at ``/var/sdk``, the function's layers merged read-only at ``/opt``
(``store/opt_trees.py``; an empty ``/opt`` without layers), a private ``/tmp`` of
EphemeralStorage MB, Lambda's small ``/etc`` (``etc_tree.py``: the sandbox user, localhost, the CA
certificates; none of the host's own configuration), and nothing else of the host writable.
Without them (no root, or ``--no-sandbox``), the same code runs with host paths (the host's
``/etc`` too) and process-level isolation only, and ``Isolation.notes`` says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flare.config import ServerConfig
from flare.control.model import FunctionVersion
from flare.runtimes.lambda_python.uids import (
    ENV_UID_BASE,
    ENV_UID_SLOTS,
    INIT_UID,
    SANDBOX_GID,
    SANDBOX_UID,
    TEMPLATE_BLOCK,
    TEMPLATE_SLOTS,
    TEMPLATE_UID_BASE,
    template_block,
)
from flare.sandbox.capabilities import probe_socket_diag
from flare.sandbox.cgroup_pool import CgroupPool, pool_name
from flare.sandbox.cgroups import PIDS_LIMIT, Cgroups, EnvCgroup, Limits, cpu_share, init_cpu_share
from flare.sandbox.code_staging import CodeStaging
from flare.sandbox.debug_ports import DEBUG_DIR, debugpy_dir
from flare.sandbox.etc_tree import EtcTrees, build_etc_trees
from flare.sandbox.forkserver import RUNTIMES_DIR
from flare.sandbox.init_program import find_init_program
from flare.sandbox.link_local_block import BLOCKED_V4, BLOCKED_V6, LinkLocalBlock
from flare.sandbox.mountns import mounts_are_private
from flare.sandbox.skeleton import DEVICES, Skeletons, shape_of
from flare.sandbox.tmp_pool import ScratchPool

# Every uid a sandboxed process may have on the host (uids.py): environments' inits, on-demand
# environments, SnapStart templates and their restores. The link-local block matches these.
SANDBOX_UIDS = (
    range(INIT_UID, ENV_UID_BASE + ENV_UID_SLOTS),
    range(TEMPLATE_UID_BASE, TEMPLATE_UID_BASE + TEMPLATE_SLOTS * TEMPLATE_BLOCK),
)


def is_sandbox_uid(uid: int) -> bool:
    """Whether ``uid`` is one a sandboxed process may run as (``SANDBOX_UIDS``)."""
    return any(uid in uids for uids in SANDBOX_UIDS)


# /etc/passwd names every on-demand environment uid, and the first restores of the first
# templates (a million template uids would make a 60 MB passwd): past those, a restore's uid
# has no name, as every uid had before the sandbox's /etc.
NAMED_TEMPLATES, NAMED_RESTORES = 32, 32
HOSTNAME = "169.254.100.1"
HOST_TREES = ("/usr",)  # /etc is Lambda's small set (etc_tree.py), not the host's
HOST_LINKS = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")

# Inside an isolated network the Runtime API is where Lambda has it.
ISOLATED_RUNTIME_API = "127.0.0.1:9001"
TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
LANG_DIR = "/var/lang"
SDK_DIR = "/var/sdk"
OPT_DIR = "/opt"
FIXED_MOUNTS_KEPT = 1024  # versions whose fixed mounts are remembered (one small entry each)


@dataclass(frozen=True)
class Layout:
    """Paths as the function sees them, and the plan that makes them so (None: host paths).
    ``opt_dir`` is its layers' directory (``/opt`` in a sandbox), None without layers."""

    task_root: str
    runtime_dir: str
    sdk_dir: str
    opt_dir: str | None
    plan: dict[str, Any] = field(default_factory=dict)
    debug_dir: str | None = None
    """debugpy's directory (``debug_ports.py``), in a debugged environment's layout only."""


SDK_BUILDS = {"python3.9": "-py39"}
"""Interpreters whose functions get an SDK build of their own, beside the default one (``make
install``): the default's urllib3 no longer imports on Python 3.9."""


def sdk_dir_of(default: Path, interpreter: Path) -> Path:
    """The SDK the functions running on ``interpreter`` get: its own build beside ``default``
    when it has one (``SDK_BUILDS``) and it is installed, else ``default``."""
    suffix = SDK_BUILDS.get(interpreter.name)
    if suffix is not None:
        own = default.with_name(default.name + suffix)
        if own.is_dir():
            return own
    return default


def interpreter_prefix(interpreter: Path) -> Path:
    """``/root/.pyenv/versions/3.12.1`` for ``.../bin/python3.12``."""
    return interpreter.resolve().parent.parent


@dataclass
class Isolation:
    """The host's sandboxing means, decided once at start-up."""

    namespaces: bool
    cgroups: Cgroups | None
    root_dir: Path
    sdk_dir: Path
    host_cpus: int
    shared_prefixes: tuple[Path, ...] = ()
    notes: list[str] = field(default_factory=list)
    scratch: ScratchPool | None = None
    endpoint_port: int | None = None
    """The port of Flare's endpoint, served inside isolated networks too (``api_door.py``);
    None when its address is not the loopback's (an isolated network has no other)."""
    callers_named: bool = False
    """Whether the kernel names the environment a connection comes from (each has its own uid,
    and socket diagnostics answer): a handler's calls then act as its function whatever key
    signs them (``auth/connection_origin.py``)."""
    skeletons: Skeletons | None = None
    network: str = "default"
    etc: EtcTrees | None = None
    link_local: LinkLocalBlock | None = None
    debugpy_dir: Path | None = None
    """Where debugpy is installed for debugged environments (``debug_ports.debugpy_dir``)."""
    cgroup_pool: CgroupPool | None = None
    """Environments' cgroups made ahead of need (``cgroup_pool.py``); set by the machine, which
    has the clock; None: each is made when needed."""
    code_staging: CodeStaging | None = None
    """Where late-bound environments get their code (``code_staging.py``); None: no such
    environments (no namespaces, or no mount namespace of the engine's own)."""
    init_program: str | None = None
    """The static init each environment's pid 1 becomes (``init_program.py``); None: a forked
    interpreter stays its init."""
    _uids: set[int] = field(default_factory=set)
    # on-demand uids handed out and given back: below ``_uid_mark`` every uid not in ``_uids``
    # is in ``_uids_free`` (a heap), so the lowest free one is found without a scan
    _uids_free: list[int] = field(default_factory=list)
    _uid_mark: int = ENV_UID_BASE
    _template_slots: set[int] = field(default_factory=set)
    # what fixed_mounts found, per (python?, interpreter, code, layers, network, debugged?): the
    # host's shape is read once per engine
    _fixed: dict[tuple[bool, str, str, Path | None, str, bool], FixedMounts] = field(default_factory=dict)

    def cgroup_for(self, env_id: str, version: FunctionVersion, init_burst: bool = False) -> EnvCgroup | None:
        """A new cgroup named ``env_id`` for ``version``'s limits (with INIT's burst CPU if
        ``init_burst``: then ``end_init_burst`` when INIT is over), or None without cgroups."""
        if self.cgroups is None:
            return None
        return self.cgroups.create(env_id, self.cgroup_limits(version.memory_mb, init_burst))

    def take_cgroup(
        self, env_id: str, version: FunctionVersion, init_burst: bool = False
    ) -> EnvCgroup | None:
        """As ``cgroup_for``, from the pool when there is one (then the pool names it)."""
        if self.cgroups is None or self.cgroup_pool is None:
            return self.cgroup_for(env_id, version, init_burst)
        return self.cgroup_pool.take(self.cgroup_limits(version.memory_mb, init_burst))

    async def take_cgroup_soon(
        self, env_id: str, version: FunctionVersion, init_burst: bool = False
    ) -> EnvCgroup | None:
        """As ``take_cgroup``, but one the pool has no spare for is made on a worker thread,
        not on the event loop: in a burst of cold starts the spares run out at once, and each
        cgroup made on the spot (~1 ms of mkdir and limit writes, mostly in the kernel) held
        up every other request the loop had to read. Made and then not awaited (the start
        was cancelled), it is removed."""
        if self.cgroups is None:
            return None
        limits = self.cgroup_limits(version.memory_mb, init_burst)
        name = env_id
        if self.cgroup_pool is not None:
            ready = self.cgroup_pool.take_ready(limits)
            if ready is not None:
                return ready
            name = pool_name()
        made = asyncio.get_running_loop().run_in_executor(None, self.cgroups.create, name, limits)
        try:
            return await asyncio.shield(made)
        except asyncio.CancelledError:
            made.add_done_callback(_remove_unclaimed)
            raise

    def cgroup_limits(self, memory_mb: int, init_burst: bool = False) -> Limits:
        """The cgroup limits of a function of ``memory_mb``: that memory, and its CPU share
        (INIT's burst share if ``init_burst``)."""
        share = init_cpu_share if init_burst else cpu_share
        return Limits(memory_mb, share(memory_mb, self.host_cpus))

    def end_init_burst(self, cgroup: EnvCgroup | None, version: FunctionVersion) -> None:
        """Back to the memory size's CPU share after INIT."""
        if cgroup is not None:
            cgroup.set_cpus(cpu_share(version.memory_mb, self.host_cpus))

    def allocate_uid(self, among: range | None = None) -> int:
        """A uid no live environment has: the lowest free one of ``among`` (a SnapStart
        template's restore uids), by default of the on-demand environments' range
        (``runtimes/lambda_python/uids.py``), in constant time: beside 1,000 live environments a
        scan from the range's start was a thousand set lookups per cold start."""
        if among is None:
            return self._allocate_on_demand_uid()
        for uid in among:
            if uid not in self._uids:
                self._uids.add(uid)
                return uid
        raise OSError("no free sandbox uid")

    def _allocate_on_demand_uid(self) -> int:
        while self._uids_free:
            uid = heapq.heappop(self._uids_free)
            if uid not in self._uids:  # a template's restore may hold it meanwhile
                self._uids.add(uid)
                return uid
        while self._uid_mark < ENV_UID_BASE + ENV_UID_SLOTS:
            uid, self._uid_mark = self._uid_mark, self._uid_mark + 1
            if uid not in self._uids:
                self._uids.add(uid)
                return uid
        raise OSError("no free sandbox uid")

    def release_uid(self, uid: int) -> None:
        if uid in self._uids:
            self._uids.discard(uid)
            if ENV_UID_BASE <= uid < self._uid_mark:
                heapq.heappush(self._uids_free, uid)

    def allocate_template_block(self) -> range:
        """The uids of a new SnapStart template (``uids.template_block``): a block no template
        holds and no process of an earlier holder still runs as."""
        for slot in range(TEMPLATE_SLOTS):
            block = template_block(slot)
            if slot not in self._template_slots and not any(uid in self._uids for uid in block):
                self._template_slots.add(slot)
                return block
        raise OSError("no free SnapStart uid block")

    def release_template_block(self, block: range) -> None:
        self._template_slots.discard((block.start - TEMPLATE_UID_BASE) // TEMPLATE_BLOCK)

    def block_link_local(self) -> None:
        """At engine start: make link-local and metadata addresses unreachable from the
        sandbox's uids, and note whether that worked."""
        if self.link_local is None:
            return
        refused = self.link_local.apply()
        addresses = ", ".join(BLOCKED_V4 + BLOCKED_V6)
        services = ", ".join(f"{address}:{port}" for address, port in self.link_local.services)
        if services:
            addresses += f"; the cluster's Redis {services}"
        if refused is None:
            self.notes.append(f"link-local and metadata addresses ({addresses}): unreachable (nftables)")
        else:
            self.notes.append(f"link-local and metadata addresses ({addresses}): REACHABLE, {refused}")

    def unblock_link_local(self) -> None:
        """At engine stop: remove what ``block_link_local`` added."""
        if self.link_local is not None:
            self.link_local.remove()

    def network_of(self, version: FunctionVersion) -> str:
        """``version``'s network mode: its own (``flare:network`` tag), else the engine's."""
        return version.network or self.network

    def interpreter_seen(self, interpreter: Path) -> str:
        """``interpreter`` as an environment sees it: under ``/var/lang/bin`` in a sandbox, as on
        Lambda; its host path without one."""
        return f"{LANG_DIR}/bin/{interpreter.name}" if self.namespaces else str(interpreter)

    def layout(
        self,
        version: FunctionVersion,
        interpreter: Path,
        tmp_dir: Path | None,
        uid: int = SANDBOX_UID,
        debug: bool = False,
        late_task: Path | None = None,
    ) -> Layout:
        """Where things are for ``version`` and how to build it; with ``debug``, debugpy's
        directory too (when installed); with ``late_task`` (a staging point of
        ``code_staging``, with namespaces only) /var/task is that instead of the code."""
        debugpy = self.debugpy_dir if debug else None
        if not self.namespaces:
            return Layout(
                str(version.code_dir),
                str(RUNTIMES_DIR),
                str(sdk_dir_of(self.sdk_dir, interpreter)),
                str(version.opt_dir) if version.opt_dir is not None else None,
                debug_dir=str(debugpy) if debugpy is not None else None,
            )
        key = (
            version.runtime.startswith("python"),
            str(interpreter),
            str(version.code_dir),
            version.opt_dir,
            self.network_of(version),
            debugpy is not None,
        )
        fixed = self._fixed.get(key)
        if fixed is None:
            if len(self._fixed) >= FIXED_MOUNTS_KEPT:
                self._fixed.clear()
            fixed = self._fixed[key] = fixed_mounts(version, interpreter, self, debugpy)
        return Layout(
            TASK_ROOT,
            RUNTIME_DIR,
            SDK_DIR,
            OPT_DIR if version.opt_dir is not None else None,
            mount_plan(fixed, version, self, tmp_dir, uid, late_task),
            DEBUG_DIR if debugpy is not None else None,
        )


@dataclass(frozen=True)
class FixedMounts:
    """What every environment of one code, runtime and interpreter mounts: read-only binds,
    devices and the skeleton they go onto."""

    binds: tuple[tuple[str, str, bool], ...]
    devices: tuple[str, ...]
    skeleton: str


def fixed_mounts(
    version: FunctionVersion, interpreter: Path, isolation: Isolation, debugpy: Path | None = None
) -> FixedMounts:
    """Read-only binds of the host's system trees, Lambda's ``/etc`` (of the version's network
    mode) and the function's own paths (and ``debugpy``'s directory at ``/var/debug``, for a
    debugged environment), the host's harmless devices, and the skeleton holding their mount
    points (built the first time its shape is seen). Reads the filesystem's shape."""
    assert isolation.skeletons is not None, "namespaces come with skeletons"
    binds: list[tuple[str, str, bool]] = [(tree, tree, False) for tree in HOST_TREES if os.path.isdir(tree)]
    if isolation.etc is not None:
        binds.append((str(isolation.etc.for_network(isolation.network_of(version))), "/etc", False))
    symlinks = []
    for link in HOST_LINKS:
        if os.path.islink(link):
            symlinks.append((os.readlink(link), link))
        elif os.path.isdir(link):
            binds.append((link, link, False))
    prefix = interpreter_prefix(interpreter)
    binds.append((str(prefix), LANG_DIR, False))
    # A Python environment's interpreter also needs its own prefix at its real path (the
    # zygote's sys.path names it); a bootstrap may name any host interpreter, so it sees them all.
    shared = {prefix} if version.runtime.startswith("python") else {prefix, *isolation.shared_prefixes}
    for path in sorted(shared):
        binds.append((str(path), str(path), False))
    binds.append((str(version.code_dir), TASK_ROOT, False))
    binds.append((str(RUNTIMES_DIR), RUNTIME_DIR, False))
    sdk = sdk_dir_of(isolation.sdk_dir, interpreter)
    if sdk.is_dir():
        binds.append((str(sdk), SDK_DIR, False))
    if version.opt_dir is not None:
        binds.append((str(version.opt_dir), OPT_DIR, False))
    if debugpy is not None:
        binds.append((str(debugpy), DEBUG_DIR, False))
    devices = [name for name in DEVICES if os.path.exists(f"/dev/{name}")]
    shape = shape_of(binds, symlinks, [OPT_DIR, "/var/tmp"], devices, ["/tmp"])
    return FixedMounts(tuple(binds), tuple(devices), isolation.skeletons.path_for(shape))


def mount_plan(
    fixed: FixedMounts,
    version: FunctionVersion,
    isolation: Isolation,
    tmp_dir: Path | None,
    uid: int,
    late_task: Path | None = None,
) -> dict[str, Any]:
    """The sandbox plan of one environment: ``fixed``'s read-only skeleton and binds, a
    writable /tmp (its scratch at ``tmp_dir``, as ``tmp_tree``: the spawn sends a detached
    copy of it, at ``tmp_fd``; else a tmpfs of EphemeralStorage), /proc, the devices, and
    nothing else; the uid it runs as (and, without cgroups, its RLIMIT_NPROC).
    With ``late_task``, /var/task is that staging point (``code_staging.py``), not the code.
    Pure."""
    binds = list(fixed.binds)
    if late_task is not None:
        binds = [bind for bind in binds if bind[1] != TASK_ROOT]
    tmpfs: list[tuple[str, int]] = []
    if tmp_dir is None:
        tmpfs.append(("/tmp", version.ephemeral_mb))
    plan: dict[str, Any] = {
        "namespaces": True,
        "root": str(isolation.root_dir),
        "skeleton": fixed.skeleton,
        "binds": binds,
        "tmpfs": tmpfs,
        **({"tmp_tree": str(tmp_dir)} if tmp_dir is not None else {}),
        "devices": list(fixed.devices),
        "uid": uid,
        "gid": SANDBOX_GID,
        "init_uid": INIT_UID,
        **({"init_program": isolation.init_program} if isolation.init_program else {}),
        "hostname": HOSTNAME,
        "seccomp": True,  # runtimes/lambda_python/seccomp.py, installed before the function runs
    }
    if late_task is not None:
        plan["late_task"] = [str(late_task), TASK_ROOT]
    if isolation.cgroups is None:  # no pids controller: the process cap is the uid's rlimit
        plan["nproc"] = PIDS_LIMIT
    if isolation.network_of(version) == "isolated":
        plan["isolated_network"] = True
        plan["runtime_api_port"] = int(ISOLATED_RUNTIME_API.rsplit(":", 1)[1])
        if isolation.endpoint_port:  # Flare's own API, the one address it reaches (api_door.py)
            plan["endpoint_port"] = isolation.endpoint_port
    return plan


def named_uids() -> list[int]:
    """The uids ``/etc/passwd`` names ``sbx_user1051`` (see ``NAMED_TEMPLATES``), most used first."""
    restores = [
        uid for slot in range(NAMED_TEMPLATES) for uid in template_block(slot)[1 : NAMED_RESTORES + 1]
    ]
    return [*range(ENV_UID_BASE, ENV_UID_BASE + ENV_UID_SLOTS), *restores]


def sandbox_root_dir(data_dir: Path) -> Path:
    """Where each environment mounts its new root, inside its own mount namespace (so one
    directory serves them all). ``/mnt`` when it exists: a SnapStart template builds its root
    from inside a user namespace, where a data dir under a 0700 home could not be traversed."""
    if Path("/mnt").is_dir() and os.stat("/mnt").st_mode & 0o005 == 0o005:
        return Path("/mnt")
    root = data_dir / "sandbox" / "root"
    root.mkdir(parents=True, exist_ok=True)
    return root


def cluster_services(config: ServerConfig) -> tuple[tuple[str, int], ...]:
    """What handlers must not reach besides link-local addresses: the cluster's Redis, with
    ``--cluster`` (``cluster/link.redis_addresses``; the module is light: no Redis import)."""
    if config.cluster_url is None:
        return ()
    from flare.cluster.link import redis_addresses

    return redis_addresses(config.cluster_url)


def build_isolation(config: ServerConfig, data_dir: Path, interpreters: dict[str, Path | None]) -> Isolation:
    """Decide, once, how environments are sandboxed on this host; ``notes`` say what is off."""
    from flare.sandbox.launcher import host_interpreter, sdk_dir

    notes: list[str] = []
    root = os.geteuid() == 0
    wanted = config.sandbox
    cgroups = Cgroups.detect() if wanted else None
    if wanted and cgroups is None:
        reason = "not root" if not root else "no usable cgroup v1/v2 hierarchy"
        notes.append(f"cgroups OFF ({reason}): no memory/CPU/pids limits; idle environments are SIGSTOPped")
    elif cgroups is not None:
        notes.append(
            f"cgroups v{cgroups.version}: memory = MemorySize, CPU = MemorySize/1769 vCPU, pids 1024, freezer"
        )
    namespaces = wanted and root
    if wanted and not root:
        notes.append("namespaces OFF (not root): functions run as your user, with host paths")
    elif namespaces:
        notes.append(
            "namespaces: pid, mount, ipc, uts; /var/task read-only; a uid of its own per environment, "
            "no capabilities; its Runtime API answers only its own processes"
        )
    if not wanted:
        notes.append("sandbox OFF (--no-sandbox): process-level isolation only")
    sandbox_root = sandbox_root_dir(data_dir)
    prefixes = {interpreter_prefix(path) for path in interpreters.values() if path is not None}
    prefixes.add(interpreter_prefix(host_interpreter()))
    scratch = None
    etc = None
    if namespaces:
        etc = build_etc_trees(data_dir, SANDBOX_UID, SANDBOX_GID, named_uids())
        notes.append("/etc: Lambda's small set (sbx_user1051, localhost, CA certificates), not the host's")
        scratch = ScratchPool(data_dir / "scratch", SANDBOX_UID, SANDBOX_GID)
        if scratch.capped:
            notes.append("/tmp: a private ext4 image of EphemeralStorage MB per environment (ENOSPC past it)")
        else:
            notes.append(f"/tmp: NOT size-capped ({scratch.reason})")
    init_program = find_init_program() if namespaces else None
    if namespaces:
        notes.append(
            f"pid 1 of each environment: {init_program} (pause mode)"
            if init_program
            else "pid 1 of each environment: a forked interpreter (install catatonit for ~2 MiB less each)"
        )
    if namespaces and config.network == "isolated":
        notes.append(
            "network: isolated (loopback and Flare's endpoint only) unless a function's flare:network tag "
            "says default"
        )
    callers_named = False
    if namespaces:
        diag = probe_socket_diag()
        callers_named = diag.ok
        if not diag.ok:
            notes.append(f"a handler's calls signed with other keys act as those keys: {diag.reason}")
    loopback = config.host in ("127.0.0.1", "localhost", "0.0.0.0")
    return Isolation(
        endpoint_port=config.port if loopback and config.port else None,
        callers_named=callers_named,
        network=config.network,
        etc=etc,
        link_local=LinkLocalBlock(data_dir, SANDBOX_UIDS, cluster_services(config)) if namespaces else None,
        debugpy_dir=debugpy_dir(),
        scratch=scratch,
        skeletons=Skeletons(data_dir / "sandbox" / "skeletons") if namespaces else None,
        namespaces=namespaces,
        cgroups=cgroups,
        root_dir=sandbox_root,
        sdk_dir=sdk_dir(),
        host_cpus=len(os.sched_getaffinity(0)),
        shared_prefixes=tuple(sorted(prefixes)),
        notes=notes,
        code_staging=_code_staging(data_dir, notes) if namespaces else None,
        init_program=init_program,
    )


def _code_staging(data_dir: Path, notes: list[str]) -> CodeStaging | None:
    """Staging points for late-bound environments, where the engine's mounts are its own."""
    if not mounts_are_private():
        notes.append("Node.js spares: one per function version (mounts are not private to the engine)")
        return None
    staging = CodeStaging.open(data_dir / "sandbox" / "late-task")
    if isinstance(staging, str):
        notes.append(f"Node.js spares: one per function version ({staging})")
        return None
    return staging


def _remove_unclaimed(made: asyncio.Future[EnvCgroup]) -> None:
    """A cgroup made for a start that was cancelled meanwhile: removed (it holds no process)."""
    if not made.cancelled() and made.exception() is None:
        with contextlib.suppress(OSError):
            made.result().remove()
