"""The engine's event loop choice."""

from __future__ import annotations

import pytest
import uvloop

from flare.server import event_loop_factory


def test_engine_runs_on_uvloop_unless_told_to_use_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLARE_EVENT_LOOP", raising=False)
    assert event_loop_factory() is uvloop.new_event_loop
    monkeypatch.setenv("FLARE_EVENT_LOOP", "asyncio")
    assert event_loop_factory() is None
