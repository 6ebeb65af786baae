"""The engine's authorizer: a function's request to another account's function reads that
function's own policy (``AddPermission``) from the engine, and needs it to allow."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from flare.config import ServerConfig
from flare.engine import Engine
from flare.errors import AccessDenied
from flare.iam import actions
from flare.iam.authorize import Caller
from flare.scope import Scope
from flare.store.policies import PolicyRow

CALLER_ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{CALLER_ACCOUNT}:role/caller-role"
CALLER = Caller(CALLER_ACCOUNT, "us-east-1", "caller", ROLE)


def test_a_cross_account_invoke_needs_the_targets_policy_as_the_engine_keeps_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = Engine(ServerConfig(data_dir=tmp_path / "data", sandbox=False))
        try:
            home = engine.home.scope
            target = f"arn:aws:lambda:{home.region}:{home.account}:function:target"
            allow_all = {"Statement": {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}}
            engine.machine.role_policies.put(CALLER_ACCOUNT, ROLE, "invoke", json.dumps(allow_all))
            scope = Scope(CALLER_ACCOUNT, home.region)

            def invoke(name: str) -> None:
                engine.authorizer.authorize(
                    CALLER, actions.for_lambda("Invoke", {"FunctionName": name}, scope)
                )

            with pytest.raises(AccessDenied, match="because no resource-based policy allows"):
                invoke(target)
            grant = {
                "Effect": "Allow",
                "Principal": {"AWS": CALLER_ACCOUNT},
                "Action": "lambda:InvokeFunction",
                "Resource": target,
            }
            engine.home.policy_store.put(PolicyRow("target", "", {"Statement": [grant]}, "r1"))
            engine.home.policies.load()
            invoke(target)
            with pytest.raises(AccessDenied):
                invoke(target + ":prod")  # an alias has a policy of its own, and this one has none
            assert engine.function_policy("arn:aws:lambda:eu-west-1:999999999999:function:x") == []
        finally:
            await engine.stop()

    asyncio.run(scenario())
