"""The Node.js bench section: Flare's Node.js figures beside serverless-offline's (the
measurements themselves need servers; these check what is reported and that ``--only node``
runs the peer)."""

from __future__ import annotations

import pytest
from bench import __main__ as bench_main
from bench import node, peer
from bench.beside_python import Beside, BesideResult
from bench.measure import LatencyStats
from bench.report import EngineResult


def stats(p50: float, p99: float) -> LatencyStats:
    return LatencyStats(count=40, p50_ms=p50, p99_ms=p99, mean_ms=p50, max_ms=p99)


FLARE = BesideResult(
    first_ms=50.0,
    cold=stats(40.0, 60.0),
    later_cold=stats(6.0, 10.0),
    warm=stats(0.9, 90.0),
    python_cold=stats(7.0, 15.0),
    python_warm=stats(0.2, 1.0),
)
PEER = EngineResult(
    "serverless-offline",
    version="serverless 3.40.0, serverless-offline 13.10.1, node v20.20.2",
    first_ms=100.0,
    cold=stats(20.0, 40.0),
    warm=stats(0.3, 3.0),
    notes=["invoke name `flarebench-dev-hellonode`"],
)


def test_node_section_sets_each_flare_figure_against_the_peers_with_the_ratio() -> None:
    text = node.render(FLARE, PEER)
    assert "| cold start p50 (ms), at once after the update | ≤ 25 | 40.00 ✗ | 20.00 | 2.00x |" in text
    assert "| cold start p99 (ms), at once after the update |  | 60.00 | 40.00 | 1.50x |" in text
    assert "| cold start p50 (ms), 0.5 s after the update | ≤ 25 | 6.00 ✓ | 20.00 | 0.30x |" in text
    assert "| cold start p99 (ms), 0.5 s after the update |  | 10.00 | 40.00 | 0.25x |" in text
    assert "| first invoke (ms) |  | 50.00 | 100.00 | 0.50x |" in text
    assert "| warm p50 (ms) |  | 0.900 | 0.300 | 3.00x |" in text
    assert "| warm p99 (ms) |  | 90.000 | 3.000 | 30.00x |" in text
    assert "- serverless-offline: serverless 3.40.0, serverless-offline 13.10.1, node v20.20.2" in text
    assert "- serverless-offline: invoke name `flarebench-dev-hellonode`" in text


def test_node_section_keeps_flares_beside_python_table_above_the_peers() -> None:
    text = node.render(FLARE, PEER)
    assert text.index("| nodejs20.x warm | 40 | 0.90 |") < text.index("**Against serverless-offline**")


def test_node_section_says_why_the_peer_was_not_measured() -> None:
    missing = EngineResult("serverless-offline", error="PeerUnavailable: node/npm not found on PATH")
    text = node.render(FLARE, missing)
    assert "| warm p50 (ms) |  | 0.900 | n/a | n/a |" in text
    assert (
        "- **serverless-offline unavailable or failed**: PeerUnavailable: node/npm not found on PATH" in text
    )


def test_only_node_runs_the_node_peer_and_a_missing_peer_does_not_fail_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[tuple[peer.PeerFunction, bool]] = []

    def fake_beside(runtime: Beside, *_: object) -> BesideResult:
        assert runtime is node.NODE
        return FLARE

    def fake_peer(_settings: object, function: peer.PeerFunction, throughput: bool = True) -> EngineResult:
        asked.append((function, throughput))
        return EngineResult("serverless-offline", error="PeerUnavailable: npm install failed")

    monkeypatch.setattr(bench_main, "_beside", fake_beside)
    monkeypatch.setattr(bench_main, "bench_peer", fake_peer)
    assert bench_main.main(["--only", "node", "--no-record"]) == 0
    assert asked == [(peer.NODE, False)]
    out = capsys.readouterr().out
    assert "**Against serverless-offline**" in out
    assert "PeerUnavailable: npm install failed" in out
