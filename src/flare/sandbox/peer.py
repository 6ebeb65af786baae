"""Who is on the other end of a loopback TCP connection: the owning uid, from /proc/net/tcp.

Each sandboxed environment runs as its own uid, so its Runtime API listener can refuse every
connection that does not come from that environment's processes: one function cannot read or
answer another's invocations.
"""

from __future__ import annotations

import socket
import struct


def _hex_address(host: str, port: int) -> str:
    """``127.0.0.1:5000`` as /proc/net/tcp writes it: ``0100007F:1388``."""
    packed = socket.inet_aton(host)
    return f"{struct.unpack('<I', packed)[0]:08X}:{port:04X}"


def tcp_owner_uid(host: str, port: int, table: str = "/proc/net/tcp") -> int | None:
    """The uid owning the local TCP socket bound to ``host:port`` (IPv4), or None."""
    wanted = _hex_address(host, port)
    with open(table) as lines:
        next(lines, None)
        for line in lines:
            fields = line.split()
            if len(fields) > 7 and fields[1] == wanted:
                return int(fields[7])
    return None
