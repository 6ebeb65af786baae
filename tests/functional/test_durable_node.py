"""Durable functions (issue 17) in Node.js: AWS's SDK for JavaScript (``@aws/durable-execution-sdk-js``,
which Flare's Node.js runtimes provide, as Lambda's nodejs22.x and 24.x do) drives the same
checkpoint protocol through boto3's Lambda API."""

from __future__ import annotations

import json

from tests.conftest import FlareServer
from tests.durable_fixtures import advance, durable_function, ended, history, suspended

STEP_WAIT_STEP = """
const { withDurableExecution } = require("@aws/durable-execution-sdk-js");

exports.handler = withDurableExecution(async (event, context) => {
  const first = await context.step("add", async () => event.n + 1);
  await context.wait("a-day", { days: 1 });
  const second = await context.step("times", async () => first * 10);
  return { first, second };
});
"""


def test_a_nodejs_durable_handler_with_a_step_and_a_wait_runs_to_succeeded(timed: FlareServer) -> None:
    lam = timed.client()
    name = durable_function(
        timed, lam, "node-durable", STEP_WAIT_STEP, timeout=2 * 86400, runtime="nodejs22.x"
    )
    arn = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"n": 4}')["DurableExecutionArn"]
    suspended(lam, arn)
    assert lam.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING"
    advance(timed, 86400)
    done = ended(lam, arn)
    assert done["Status"] == "SUCCEEDED", (done.get("Error"), history(lam, arn))
    assert json.loads(done["Result"]) == {"first": 5, "second": 50}
    kinds = history(lam, arn)
    assert kinds.count("StepSucceeded") == 2 and "WaitSucceeded" in kinds
