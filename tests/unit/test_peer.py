"""Finding the uid behind a loopback connection in /proc/net/tcp."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from flare.sandbox.peer import tcp_owner_uid

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def row(local: str, remote: str, state: str, uid: int) -> str:
    return f"   0: {local} {remote} {state} 00000000:00000000 00:00000000 00000000 {uid:>5} 0 1 1\n"


def test_the_live_socket_connected_to_the_server_wins_over_a_time_wait_on_the_same_port(
    tmp_path: Path,
) -> None:
    table = tmp_path / "tcp"
    client, api, other = "0100007F:C350", "0100007F:2329", "0100007F:1F90"  # :50000, :9001, :8080
    table.write_text(
        HEADER
        + row(client, other, "06", 0)  # an earlier connection from the same port, in TIME_WAIT
        + row(api, client, "01", 0)  # the server's side of the connection (the engine's)
        + row(client, api, "01", 20_003)
    )
    assert tcp_owner_uid("127.0.0.1", 50000, ("127.0.0.1", 9001), str(table)) == 20_003
    assert tcp_owner_uid("127.0.0.1", 50000, ("127.0.0.1", 8080), str(table)) is None
    assert tcp_owner_uid("127.0.0.1", 50001, ("127.0.0.1", 9001), str(table)) is None


def test_a_real_connection_is_found_with_its_owner() -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as server,
        socket.create_connection(server.getsockname()) as client,
    ):
        host, port = client.getsockname()
        assert tcp_owner_uid(host, port, server.getsockname()) == os.getuid()
