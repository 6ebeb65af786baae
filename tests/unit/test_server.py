"""The engine's event loop and garbage collector settings."""

from __future__ import annotations

import gc

import pytest
import uvloop

from flare.server import GC_THRESHOLDS, event_loop_factory, tune_gc


def test_engine_runs_on_uvloop_unless_told_to_use_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLARE_EVENT_LOOP", raising=False)
    assert event_loop_factory() is uvloop.new_event_loop
    monkeypatch.setenv("FLARE_EVENT_LOOP", "asyncio")
    assert event_loop_factory() is None


def test_tuned_gc_freezes_what_start_up_made_and_collects_young_objects_less_often() -> None:
    thresholds = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
