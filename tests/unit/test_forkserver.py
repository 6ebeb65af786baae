"""The engine's side of the zygote protocol, against a peer played by the test: a burst of
spawns on a full socket waits for it to drain, whole frames one after the other."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from flare.runtimes.lambda_python import frames
from flare.sandbox.forkserver import Zygote

SPAWNS = 40
PAD = "x" * 50_000  # a SPAWN frame of ~50 KB: forty of them overflow any socket buffer


class CountingSocket:
    """The engine's end of the socket, counting its ``sendmsg`` calls."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sends = 0

    def sendmsg(self, *args: Any) -> int:
        self.sends += 1
        return self.sock.sendmsg(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


def play_zygote(peer: socket.socket, frames_seen: list[dict[str, Any]]) -> None:
    """Read SPAWN frames (closing the descriptors they carry) and answer each with a pid."""
    reader = frames.FrameReader()
    while len(frames_seen) < SPAWNS:
        data, ancillary, _, _ = peer.recvmsg(1 << 16, socket.CMSG_SPACE(64))
        for _level, _kind, fds in ancillary:
            for at in range(0, len(fds) - len(fds) % 4, 4):
                os.close(int.from_bytes(fds[at : at + 4], sys.byteorder))
        for kind, header, _ in reader.feed(data):
            assert kind == frames.SPAWN
            frames_seen.append(header)
            peer.sendall(frames.encode(frames.SPAWNED, {"id": header["id"], "pid": 1000 + len(frames_seen)}))


def test_a_burst_of_spawns_on_a_full_socket_waits_without_polling_and_sends_whole_frames() -> None:
    async def scenario() -> tuple[int, list[int], list[dict[str, Any]]]:
        ours, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        zygote = Zygote(Path(sys.executable))
        peer.sendall(frames.encode(frames.SPAWNED, {"id": "hello", "pid": 1}))
        await zygote.attach(ours, "hello")
        counting = CountingSocket(ours)
        zygote._sock = counting  # type: ignore[assignment]  # a socket that counts its sends
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            spawns = [
                asyncio.create_task(zygote.spawn(f"env-{n}", {"n": n, "pad": PAD}, [null]))
                for n in range(SPAWNS)
            ]
            await asyncio.sleep(0.3)  # the peer reads nothing yet: the socket is full
            sends_while_full = counting.sends
            seen: list[dict[str, Any]] = []
            player = threading.Thread(target=play_zygote, args=(peer, seen))
            player.start()
            pids = await asyncio.wait_for(asyncio.gather(*spawns), 30)
            player.join(5)
            return sends_while_full, pids, seen
        finally:
            os.close(null)
            await zygote.stop()
            peer.close()

    sends_while_full, pids, seen = asyncio.run(scenario())
    # each frame that fit was sent once; the one that did not waits for room, unpolled
    assert sends_while_full <= SPAWNS, f"{sends_while_full} sendmsg calls on a full socket: polled"
    assert sorted(pids) == list(range(1001, 1001 + SPAWNS))
    assert sorted(header["n"] for header in seen) == list(range(SPAWNS))
    assert all(header["pad"] == PAD for header in seen), "every frame arrived whole"
