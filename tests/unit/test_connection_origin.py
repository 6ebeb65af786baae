"""Which environment opened a connection: the kernel's owner of its client end, when that is a
sandbox uid, asked once per connection (auth/connection_origin.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flare.auth.connection_origin import ConnectionOrigins
from flare.errors import ServiceException

CLIENT, SERVER = ("127.0.0.1", 50_000), ("127.0.0.1", 9000)


class Transport(asyncio.BaseTransport):
    """What the origins read of a transport: its two ends."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": CLIENT, "sockname": SERVER}.get(name, default)


class Owners:
    """The kernel's answers, counted."""

    def __init__(self, answer: int | OSError | None) -> None:
        self.answer = answer
        self.asked = 0

    def owner_of(self, client: tuple[str, int], server: tuple[str, int]) -> int | None:
        assert (client, server) == (CLIENT, SERVER)
        self.asked += 1
        if isinstance(self.answer, OSError):
            raise self.answer
        return self.answer


def origins(owners: Owners) -> ConnectionOrigins:
    return ConnectionOrigins(owners.owner_of, lambda uid: 20_000 <= uid < 30_000)


def test_a_sandbox_uids_connection_is_that_uids_and_asked_once() -> None:
    owners = Owners(20_001)
    known, transport = origins(owners), Transport()
    assert known.of(transport) == 20_001
    assert known.of(transport) == 20_001
    assert owners.asked == 1


@pytest.mark.parametrize("answer", [0, 1000, None])
def test_any_other_owner_or_none_is_from_outside(answer: int | None) -> None:
    owners = Owners(answer)
    known, transport = origins(owners), Transport()
    assert known.of(transport) is None
    assert known.of(transport) is None
    assert owners.asked == 1
    assert known.of(None) is None


def test_a_kernel_that_cannot_be_asked_refuses_the_request_and_is_asked_again() -> None:
    owners = Owners(OSError(105, "No buffer space available"))
    known, transport = origins(owners), Transport()
    with pytest.raises(ServiceException):
        known.of(transport)
    owners.answer = 20_002
    assert known.of(transport) == 20_002
