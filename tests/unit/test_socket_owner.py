"""The kernel names the owner of a connection's client end (sandbox/socket_owner.py)."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from flare.sandbox.socket_owner import SocketOwners, diag_request, owner_in_answer, sequence_of


def _connected(family: int, host: str) -> tuple[socket.socket, socket.socket, socket.socket]:
    server = socket.socket(family)
    server.bind((host, 0))
    server.listen()
    client = socket.socket(family)
    client.connect(server.getsockname()[:2])
    accepted, _ = server.accept()
    return server, client, accepted


@pytest.mark.parametrize(("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_the_client_end_of_a_live_connection_is_owned_by_its_process_uid(family: int, host: str) -> None:
    server, client, accepted = _connected(family, host)
    owners = SocketOwners()
    try:
        peer, local = accepted.getpeername()[:2], accepted.getsockname()[:2]
        assert owners.owner_of(peer, local) == os.getuid()
        client.close()  # what it sent before closing is still its
        assert owners.owner_of(peer, local) == os.getuid()
        accepted.close()  # both ends closed: TIME_WAIT, nobody's
        assert owners.owner_of(peer, local) is None
    finally:
        for sock in (server, client, accepted):
            sock.close()
        owners.close()


def test_an_address_with_no_connection_or_of_the_other_family_has_no_owner() -> None:
    server, client, accepted = _connected(socket.AF_INET, "127.0.0.1")
    owners = SocketOwners()
    try:
        local = accepted.getsockname()[:2]
        free_port = client.getsockname()[1] ^ 1
        assert owners.owner_of(("127.0.0.1", free_port), local) is None
        assert owners.owner_of(("::1", client.getsockname()[1]), local) is None
        # The server's own end, asked for as if it were the client's, is not the connection.
        assert owners.owner_of(local, ("127.0.0.1", 1)) is None
    finally:
        for sock in (server, client, accepted):
            sock.close()
        owners.close()


SYSTEM_PYTHON = "/usr/bin/python3"  # one another uid may run (the engine's may sit under /root)


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.access(SYSTEM_PYTHON, os.X_OK), reason="needs root and a system python3"
)
def test_a_connection_made_by_another_uid_is_that_uid() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        script = f"import socket,sys; s=socket.create_connection(('127.0.0.1',{port})); sys.stdin.read()"
        child = subprocess.Popen(
            [SYSTEM_PYTHON, "-c", script], stdin=subprocess.PIPE, user=65534, group=65534, extra_groups=[]
        )
        owners = SocketOwners()
        try:
            accepted, peer = server.accept()
            with accepted:
                assert owners.owner_of(peer, accepted.getsockname()) == 65534
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(10)
            owners.close()


def test_an_answer_left_unread_is_not_taken_for_the_next_one() -> None:
    server, client, accepted = _connected(socket.AF_INET, "127.0.0.1")
    owners = SocketOwners()
    try:
        assert owners.owner_of(accepted.getpeername(), accepted.getsockname()) == os.getuid()
        netlink = owners._netlink
        assert netlink is not None
        # An earlier lookup whose answer nobody read: about a port no socket has.
        netlink.send(diag_request(socket.AF_INET, ("127.0.0.1", 1), accepted.getsockname(), 999))
        assert owners.owner_of(accepted.getpeername(), accepted.getsockname()) == os.getuid()
    finally:
        for sock in (server, client, accepted):
            sock.close()
        owners.close()


def test_answers_that_name_no_live_socket_give_no_owner() -> None:
    assert owner_in_answer(b"", b"") is None
    assert sequence_of(b"short") is None
    request = diag_request(socket.AF_INET, ("127.0.0.1", 1), ("127.0.0.1", 2), 7)
    assert sequence_of(request) == 7
    error = request[:4] + (2).to_bytes(2, "little") + request[6:] + bytes(64)
    assert owner_in_answer(error, b"") is None
