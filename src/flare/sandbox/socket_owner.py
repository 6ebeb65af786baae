"""Who owns the other end of a local TCP connection, asked of the kernel by the connection itself.

Each sandboxed environment runs as its own uid, so a server on loopback (an environment's
Runtime API, Flare's front door) can tell which environment, if any, a connection comes from
by the uid owning the client's socket. The kernel answers that through its socket diagnostics
interface (``NETLINK_SOCK_DIAG``, the one ``ss`` uses), asked for exactly one socket: the one
whose local address is the connection's client end and whose remote address is the server's
end. The kernel finds it in its own connection table, as it finds the socket for an arriving
packet, and answers its owner: the uid that created it (``sock_i_uid``).

What this gives over reading ``/proc/net/tcp`` (what Flare did before): no text table read
whole for each connection (a function holding 18,000 loopback connections made each lookup hold
the engine's loop ~80 ms: ``bench/connection_owner.py``); no lines skipped by the kernel's
iterator when sockets come and go between two reads (which refused a legitimate connection now
and then); IPv6 as well as IPv4.
The request is answered within the ``send`` call, so the read after it never waits (an answer
not there is an error, never a wait); a socket that is not there (gone, or not local) is an
answer too: None.

Without per-environment uids (``--no-sandbox``, or an engine that is not root) every
environment runs as the engine's own uid and can already do whatever the engine's user can;
an owner tells nothing there, and the servers that ask (``runtime_api.py``,
``auth/connection_origin.py``) do not ask.
"""

from __future__ import annotations

import socket
import struct

NETLINK_SOCK_DIAG = 4  # linux/netlink.h (not in the socket module)
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLMSG_ERROR = 2
NO_COOKIE = 0xFFFFFFFF
ALL_STATES = 0xFFFFFFFF
CLIENT_STATES = frozenset({1, 4, 5, 8, 9, 11})
"""TCP states of a connected socket a process holds or has just closed: ESTABLISHED,
FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING (not LISTEN, SYN_*, TIME_WAIT, CLOSE)."""
NETLINK_HEADER = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
REQUEST = struct.Struct("=BBBBI")  # family, protocol, extensions, pad, states
PORTS = struct.Struct("!HH")  # source and destination port, network order
INTERFACE_AND_COOKIE = struct.Struct("=III")
ANSWER_STATE_OFFSET = NETLINK_HEADER.size + 1
ANSWER_ID_OFFSET = NETLINK_HEADER.size + 4
ANSWER_UID = struct.Struct("=I")
ANSWER_UID_OFFSET = NETLINK_HEADER.size + 4 + 48 + 12  # after the socket id and three counters
ANSWER_BYTES = 8192


def _address_bytes(family: int, host: str) -> bytes:
    """``host`` as the 16 bytes of a diagnostics socket id (IPv4 in the first 4)."""
    if family == socket.AF_INET:
        return socket.inet_pton(socket.AF_INET, host) + bytes(12)
    return socket.inet_pton(socket.AF_INET6, host)


def _socket_id(family: int, client: tuple[str, int], server: tuple[str, int]) -> bytes:
    """The ports and addresses of a diagnostics socket id: the client's end first."""
    return (
        PORTS.pack(client[1], server[1])
        + _address_bytes(family, client[0])
        + _address_bytes(family, server[0])
    )


def diag_request(family: int, client: tuple[str, int], server: tuple[str, int], sequence: int) -> bytes:
    """The netlink message asking for the one TCP socket bound to ``client`` and connected to
    ``server`` (addresses of ``family``)."""
    socket_id = _socket_id(family, client, server) + INTERFACE_AND_COOKIE.pack(0, NO_COOKIE, NO_COOKIE)
    body = REQUEST.pack(family, socket.IPPROTO_TCP, 0, 0, ALL_STATES) + socket_id
    length = NETLINK_HEADER.size + len(body)
    header = NETLINK_HEADER.pack(length, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, sequence, 0)
    return header + body


def sequence_of(answer: bytes) -> int | None:
    """The sequence number of the request ``answer`` answers (None: not a netlink message)."""
    return NETLINK_HEADER.unpack_from(answer)[3] if len(answer) >= NETLINK_HEADER.size else None


def owner_in_answer(answer: bytes, asked: bytes) -> int | None:
    """The owner's uid in the kernel's answer about the socket id ``asked``
    (``_socket_id``), when it is the client end of that very connection. A socket its process
    has closed while the other end has not yet keeps its owner's uid: what the process sent
    before closing is still its. None for an error, a connection in TIME_WAIT (nobody's any
    more), and the listener the kernel falls back to when no connection has those ends."""
    if len(answer) < ANSWER_UID_OFFSET + ANSWER_UID.size:
        return None
    if NETLINK_HEADER.unpack_from(answer)[1] == NLMSG_ERROR:
        return None
    if answer[ANSWER_STATE_OFFSET] not in CLIENT_STATES:
        return None
    if answer[ANSWER_ID_OFFSET : ANSWER_ID_OFFSET + len(asked)] != asked:
        return None
    return int(ANSWER_UID.unpack_from(answer, ANSWER_UID_OFFSET)[0])


class SocketOwners:
    """Asks the kernel who owns the client end of a connection (see the module docstring).

    One netlink socket, opened on first use and kept; used from one thread (the engine's
    loop)."""

    def __init__(self) -> None:
        self._netlink: socket.socket | None = None
        self._sequence = 0

    def owner_of(self, client: tuple[str, int], server: tuple[str, int]) -> int | None:
        """The uid owning the TCP socket bound to ``client`` and connected to ``server`` (the
        two ends as the server sees them: ``peername`` and ``sockname``), or None when the
        kernel holds no such connection (``owner_in_answer``). Raises OSError when the kernel
        could not be asked (no socket diagnostics; the socket is opened again next time)."""
        family = socket.AF_INET6 if ":" in client[0] else socket.AF_INET
        if (":" in server[0]) != (family == socket.AF_INET6):
            return None
        if self._netlink is None:
            self._netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
            self._netlink.setblocking(False)
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        asked = _socket_id(family, client, server)
        try:
            self._netlink.send(diag_request(family, client, server, self._sequence))
            while True:  # an answer left unread by an earlier failure is skipped
                answer = self._netlink.recv(ANSWER_BYTES, socket.MSG_DONTWAIT)
                if sequence_of(answer) == self._sequence:
                    return owner_in_answer(answer, asked)
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        if self._netlink is not None:
            self._netlink.close()
            self._netlink = None


OWNERS = SocketOwners()
"""The engine's one lookup socket (a process asks the kernel through one netlink socket)."""
