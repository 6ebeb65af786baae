"""``flare top`` in a pseudo-terminal: it shows a function's row once it is invoked, sorts on a
key and quits with ``q`` (exit 0)."""

from __future__ import annotations

import os
from typing import Any

import pexpect

from tests.conftest import FLARE, FlareServer, create_function, python_function


def test_top_shows_an_invoked_function_and_quits_on_q(flare: FlareServer, lam: Any) -> None:
    create_function(
        lam, "topped", python_function("def handler(event, context):\n    return 1\n"), MemorySize=512
    )
    env = {
        **os.environ,
        "FLARE_ENDPOINT_URL": flare.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "t",
    }
    top = pexpect.spawn(str(FLARE), ["top"], env=env, dimensions=(30, 160), timeout=20, encoding="utf-8")
    try:
        top.expect("live")  # the stream is open
        lam.invoke(FunctionName="topped")
        lam.invoke(FunctionName="topped")
        top.expect(r"topped\s+│\s+1\s+│\s+0\s+│\s+0\s+│\s+1\s+│\s+0\.2\s+│")  # 1 env, frozen; 2 in 10 s
        top.expect("512 MB")
        top.send("p")
        top.expect("sorted by p99")
        top.send("q")
        top.expect(pexpect.EOF)
    finally:
        top.close()
    assert top.exitstatus == 0
