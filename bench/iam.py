"""Micro-bench of IAM decisions on a function's requests: ``python -m bench.iam``.

What the invoke path of a call from a function would pay once ``iam/authorize.py`` is wired in:
the request's authorization (``actions.for_lambda``) and the decision (``Authorizer.authorize``)
against the default policy, against an attached policy of ``STATEMENTS`` statements (actions and
resources with wildcards, one condition each), and with a resource policy of the target function
to read. Prints microseconds per call (best of ``ROUNDS`` rounds of ``CALLS``); nothing is recorded.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flare.iam import actions
from flare.iam.authorize import Authorizer, Caller
from flare.iam.roles import RolePolicies
from flare.scope import Scope
from flare.store.database import Database
from flare.store.role_policies import RolePolicyStore

ACCOUNT = "123456789012"
SCOPE = Scope(ACCOUNT, "us-east-1")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/bench-role"
CALLS = 20_000
ROUNDS = 5
STATEMENTS = 10


def per_call_us(call: Callable[[], object]) -> float:
    """Best of ``ROUNDS`` rounds: microseconds per ``call()``."""
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            call()
        best = min(best, (time.perf_counter() - start) / CALLS)
    return best * 1e6


def attached(count: int) -> dict[str, Any]:
    statements = [
        {
            "Effect": "Allow",
            "Action": [f"sqs:Send{i}*", f"kinesis:Put{i}*"],
            "Resource": f"arn:aws:sqs:*:{ACCOUNT}:queue-{i}-*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
        }
        for i in range(count - 1)
    ]
    statements.append(
        {
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": f"arn:aws:lambda:*:{ACCOUNT}:function:*",
        }
    )
    return {"Version": "2012-10-17", "Statement": statements}


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        roles = RolePolicies(RolePolicyStore(Database(Path(data) / "flare.db", SCOPE)))
        statement = {
            "Effect": "Allow",
            "Principal": {"AWS": ROLE},
            "Action": "lambda:InvokeFunction",
            "Resource": "*",
        }
        resource_policy: list[dict[str, Any]] = [statement]
        default = Authorizer(roles, lambda arn: [])
        with_policy = Authorizer(roles, lambda arn: resource_policy)
        caller = Caller(ACCOUNT, "us-east-1", "bench", "arn:aws:iam::123456789012:role/default-role")
        invoke = actions.for_lambda("Invoke", {"FunctionName": "target", "Qualifier": "live"}, SCOPE)
        rows = [
            (
                "actions.for_lambda(Invoke)",
                lambda: actions.for_lambda("Invoke", {"FunctionName": "target"}, SCOPE),
            ),
            ("authorize, default policy", lambda: default.authorize(caller, invoke)),
            ("authorize, default policy + resource policy", lambda: with_policy.authorize(caller, invoke)),
        ]
        roles.put(ACCOUNT, ROLE, "bench", json.dumps(attached(STATEMENTS)))
        mine = Caller(ACCOUNT, "us-east-1", "bench", ROLE)
        rows.append(
            (
                f"authorize, attached policy of {STATEMENTS} statements",
                lambda: default.authorize(mine, invoke),
            )
        )
        for label, call in rows:
            print(f"{label:55} {per_call_us(call):6.2f} us")


if __name__ == "__main__":
    main()
