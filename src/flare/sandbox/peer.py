"""Who is on the other end of a loopback TCP connection: the owning uid, from /proc/net/tcp.

Each sandboxed environment runs as its own uid, so its Runtime API listener can refuse every
connection that does not come from that environment's processes: one function cannot read or
answer another's invocations.

The client's socket is found by both ends of the connection, never by its port alone: a
client port is reused for other destinations while an earlier connection from it still sits in
TIME_WAIT, whose entry shows uid 0. The table is read in large reads (a socket opened or
closed between two small reads can make the kernel's iterator skip an entry), and read again
once when the socket is not in it.
"""

from __future__ import annotations

import os
import socket
import struct

TIME_WAIT = "06"
READ_BYTES = 1 << 20


def _hex_address(host: str, port: int) -> str:
    """``127.0.0.1:5000`` as /proc/net/tcp writes it: ``0100007F:1388``."""
    packed = socket.inet_aton(host)
    return f"{struct.unpack('<I', packed)[0]:08X}:{port:04X}"


def _read_table(table: str) -> str:
    fd = os.open(table, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, READ_BYTES):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii", "replace")


def tcp_owner_uid(
    host: str, port: int, server: tuple[str, int] | None = None, table: str = "/proc/net/tcp"
) -> int | None:
    """The uid owning the live local TCP socket bound to ``host:port`` (IPv4) and, when
    ``server`` is given, connected to it; None when there is none."""
    local = _hex_address(host, port)
    remote = _hex_address(*server) if server else None
    for _attempt in range(2):
        for line in _read_table(table).splitlines()[1:]:
            fields = line.split()
            if (
                len(fields) > 7
                and fields[1] == local
                and (remote is None or fields[2] == remote)
                and fields[3] != TIME_WAIT
            ):
                return int(fields[7])
    return None
