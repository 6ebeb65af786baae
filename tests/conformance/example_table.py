"""AWS's documented Lambda examples as this suite runs them: one table, every decision in it.

botocore ships ``lambda``'s examples (``examples-1.json``: each an input and the output AWS
documents for it). ``CASES`` has a row per example, keyed ``Operation[n]`` (the n-th example of
that operation): what its setup makes, every substitution that makes it runnable on Flare,
every difference from the example that we accept and why, and, where Flare's answer is wrong,
the bug (the test is then an expected failure that the fix turns into a pass).

``EVERY_EXAMPLE`` lists the substitutions made in all of them, ``ADDED_SINCE`` the members AWS
added to its answers after the examples were written (they date from 2016 to 2020), and
``example_compare.GENERATED`` the members whose values AWS makes and are compared by type only.
``python -m tests.conformance.example_table`` prints the whole table as Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.conformance import example_setups as setups
from tests.conformance.account import ACCOUNT, CODE, LAYER_CODE, REGION
from tests.conformance.example_compare import Allowed
from tests.conformance.substitution import ABSENT, Made, Substitution

EVERY_EXAMPLE = (
    Substitution("strings", "123456789012", ACCOUNT, "AWS's example account -> the account Flare serves"),
    *(
        Substitution("strings", region, REGION, "the examples' regions -> the region Flare serves")
        for region in ("us-west-2", "us-east-2", "ca-central-1")
    ),
    *(
        Substitution("strings", runtime, "python3.12", "a Node.js runtime -> a runtime Flare runs")
        for runtime in ("nodejs12.x", "nodejs10.x")
    ),
)
EVERY_SETUP = (
    "an emptied account; functions made from the CreateFunction example's input (ZipFile code, python3.12); "
    "successive versions differ in their timeout (Flare publishes no new version for a change of the "
    "description alone); "
    "provisioned concurrency of 1"
)
_STATES = "function states (2019-2021)"
ADDED_SINCE = {
    "FunctionConfiguration": {
        "State": _STATES,
        "StateReason": _STATES,
        "StateReasonCode": _STATES,
        "LastUpdateStatus": _STATES,
        "LastUpdateStatusReason": _STATES,
        "LastUpdateStatusReasonCode": _STATES,
        "PackageType": "container image packages (2020)",
        "Architectures": "arm64 functions (2021)",
        "EphemeralStorage": "configurable /tmp (2022)",
        "SnapStart": "SnapStart (2022)",
        "RuntimeVersionConfig": "runtime management controls (2023)",
        "LoggingConfig": "advanced logging controls (2023)",
    },
    "EventSourceMappingConfiguration": {
        "MaximumBatchingWindowInSeconds": "batching windows for SQS (2020)",
        "FunctionResponseTypes": "partial batch responses (2021)",
        "EventSourceMappingArn": "mapping ARNs (2024)",
    },
}
S3_CODE = {"S3Bucket": "my-bucket-1xpuxmplzrlbh", "S3Key": "function.zip"}
S3_LAYER = {"S3Bucket": f"lambda-layers-{REGION}-{ACCOUNT}", "S3Key": "layer.zip"}
ZIP = "Flare's code comes in the request: a zip of index.py (handler returns '200 SUCCESS')"
ONE_ENVIRONMENT = "provisioned concurrency of 100 would start 100 environments: the suite asks for 1"
STREAM_ONLY = (
    "a stream source's setting: AWS answers it for Kinesis/DynamoDB/MSK mappings, not for an SQS queue"
)
VERSION_ARN = (
    "AWS answers a version's qualified ARN (its recorded answers show ':1'); the example shows the function's"
)
WINDOW = "AWS refuses an SQS BatchSize over 10 without a batching window: the setup sets 1 s"
NO_ORDER = "AWS documents no order: the example lists the newest first, Flare in the order of creation"
VERSION_ASKED = (
    "the example asks for version 1 and shows $LATEST's configuration; AWS answers the version asked for"
)


@dataclass(frozen=True)
class Case:
    setup: setups.Setup = setups.nothing
    needs: tuple[str, ...] = ()  # operations the setup calls, besides the example's own
    substitutions: tuple[Substitution, ...] = ()
    allowed: tuple[Allowed, ...] = ()
    bug: str | None = None
    setup_note: str = ""  # where the setup departs from what the example implies, and why


def the_setups_mapping(uuid: str) -> tuple[Substitution, ...]:
    """The example's mapping UUID, in its input and output -> the mapping the setup made."""
    return tuple(
        Substitution(f"{part}.UUID", uuid, Made("uuid"), "the mapping the setup made")
        for part in ("input", "output")
    )


def renamed(layer: str) -> Substitution:
    """The example's layer -> the layer of its own that the setup published (applied last)."""
    return Substitution(
        "strings", layer, Made("layer"), "layer version numbers are never reused: a layer per example"
    )


def scaled_down(*paths: str) -> tuple[Substitution, ...]:
    return tuple(Substitution(path, 100, 1, ONE_ENVIRONMENT) for path in paths)


LAYERS = ("PublishLayerVersion",)
CASES: dict[str, Case] = {
    "AddLayerVersionPermission[0]": Case(
        setups.layer("my-layer", 1, **setups.LAYER), LAYERS, substitutions=(renamed("my-layer"),)
    ),
    "AddPermission[0]": Case(
        setups.my_function,
        allowed=(
            Allowed(
                "Statement.Condition.ArnLike.AWS:SourceArn",
                "value",
                "the example's input SourceArn ends in '/*' and its statement's does not: a statement "
                "holds the SourceArn it was given",
            ),
        ),
    ),
    "AddPermission[1]": Case(setups.my_function),
    "CreateAlias[0]": Case(setups.with_versions(1)),
    "CreateEventSourceMapping[0]": Case(
        setups.queue("my-queue"),
        allowed=(Allowed("UUID", "value", "a new id, made by the creation"),),
    ),
    "CreateFunction[0]": Case(
        substitutions=(Substitution("input.Code", S3_CODE, {"ZipFile": CODE}, ZIP),),
        allowed=(
            Allowed(
                "State",
                "value",
                "AWS answers a new function Pending (StateReasonCode Creating), then turns it Active",
            ),
            Allowed("LastUpdateStatus", "absent", "AWS has no LastUpdateStatus before the creation settles"),
        ),
    ),
    "DeleteAlias[0]": Case(setups.with_versions(1, ("BLUE", "1"))),
    "DeleteEventSourceMapping[0]": Case(
        setups.mapping("my-queue", BatchSize=5, wait_for="Enabled"),
        substitutions=the_setups_mapping("14e0db71-xmpl-4eb5-b481-8945cf9d10c2"),
        allowed=(Allowed("State", "value", "AWS answers a mapping being deleted as Deleting"),),
    ),
    "DeleteFunction[0]": Case(
        setups.with_versions(1),
        allowed=(
            Allowed(
                "StatusCode",
                "added",
                "the model has since given DeleteFunction a StatusCode (the HTTP status, 204)",
            ),
        ),
    ),
    "DeleteFunctionConcurrency[0]": Case(setups.function_settings(concurrency=100)),
    "DeleteFunctionEventInvokeConfig[0]": Case(
        setups.function_settings(invoke_configs={"GREEN": {"MaximumRetryAttempts": 1}})
    ),
    "DeleteLayerVersion[0]": Case(setups.layer("my-layer", 2), LAYERS, substitutions=(renamed("my-layer"),)),
    "DeleteProvisionedConcurrencyConfig[0]": Case(setups.function_settings(provisioned=("GREEN",))),
    "GetAccountSettings[0]": Case(
        setups.functions(4),
        setup_note="four functions, the example's FunctionCount",
        allowed=(Allowed("AccountUsage.TotalCodeSize", "value", "the size of the code the account holds"),),
    ),
    "GetAlias[0]": Case(setups.alias_blue("3", 3)),
    "GetEventSourceMapping[0]": Case(
        setups.mapping(
            "mySQSqueue", "myFunction", "Enabled", BatchSize=500, MaximumBatchingWindowInSeconds=1
        ),
        setup_note=WINDOW,
        substitutions=the_setups_mapping("14e0db71-xmpl-4eb5-b481-8945cf9d10c2"),
        allowed=(
            *(
                Allowed(name, "absent", STREAM_ONLY)
                for name in (
                    "BisectBatchOnFunctionError",
                    "DestinationConfig",
                    "MaximumRecordAgeInSeconds",
                    "MaximumRetryAttempts",
                    "LastProcessingResult",
                )
            ),
            Allowed(
                "State",
                "value",
                "the example was read while the mapping was Creating; the setup waits for Enabled",
            ),
            Allowed(
                "StateTransitionReason",
                "value",
                "AWS writes USER_INITIATED for SQS mappings ('User action' for streams)",
            ),
        ),
    ),
    "GetFunction[0]": Case(
        setups.with_versions(1),
        allowed=(
            Allowed("Configuration.FunctionArn", "value", VERSION_ASKED),
            Allowed("Configuration.Version", "value", VERSION_ASKED),
        ),
    ),
    "GetFunctionConcurrency[0]": Case(setups.function_settings(concurrency=250)),
    "GetFunctionConfiguration[0]": Case(
        setups.with_versions(1),
        allowed=(Allowed("FunctionArn", "value", VERSION_ASKED), Allowed("Version", "value", VERSION_ASKED)),
    ),
    "GetFunctionEventInvokeConfig[0]": Case(setups.invoke_config_with_destination),
    "GetLayerVersion[0]": Case(
        setups.layer("my-layer", 1, **setups.LAYER), LAYERS, substitutions=(renamed("my-layer"),)
    ),
    "GetLayerVersionByArn[0]": Case(
        setups.layer(
            "blank-python-lib",
            3,
            CompatibleRuntimes=["python3.8"],
            Description="Dependencies for the blank-python sample app.",
        ),
        LAYERS,
        substitutions=(renamed("blank-python-lib"),),
    ),
    "GetPolicy[0]": Case(setups.function_settings(permissions={"1": ACCOUNT})),
    "GetProvisionedConcurrencyConfig[0]": Case(
        setups.function_settings(provisioned=("BLUE",)),
        substitutions=scaled_down(
            "output.AllocatedProvisionedConcurrentExecutions",
            "output.AvailableProvisionedConcurrentExecutions",
            "output.RequestedProvisionedConcurrentExecutions",
        ),
    ),
    "GetProvisionedConcurrencyConfig[1]": Case(
        setups.function_settings(provisioned=("BLUE",)),
        substitutions=scaled_down(
            "output.AllocatedProvisionedConcurrentExecutions",
            "output.AvailableProvisionedConcurrentExecutions",
            "output.RequestedProvisionedConcurrentExecutions",
        ),
    ),
    "Invoke[0]": Case(
        setups.with_versions(1),
        substitutions=(
            Substitution(
                "output.Payload",
                "200 SUCCESS",
                '"200 SUCCESS"',
                "a Python handler's return value is sent as JSON: the string, quoted",
            ),
        ),
        allowed=(
            Allowed(
                "ExecutedVersion",
                "added",
                "the X-Amz-Executed-Version header, which the 2016 example does not show",
            ),
        ),
    ),
    "Invoke[1]": Case(setups.with_versions(1)),
    "InvokeAsync[0]": Case(
        setups.my_function,
    ),
    "ListAliases[0]": Case(
        setups.aliases_blue_and_green,
        substitutions=(
            Substitution(
                "output.Aliases[0].AliasArn",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-function:BETA",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-function:BLUE",
                "the example's alias BLUE has the ARN of a BETA: an alias's ARN ends with its name",
            ),
            Substitution(
                "output.Aliases[1].AliasArn",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-function:LIVE",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-function:GREEN",
                "the example's alias GREEN has the ARN of a LIVE, likewise",
            ),
        ),
    ),
    "ListEventSourceMappings[0]": Case(
        setups.mapping("mySQSqueue", BatchSize=5, wait_for="Enabled"),
        substitutions=(
            Substitution(
                "output.EventSourceMappings[0].UUID",
                "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE",
                Made("uuid"),
                "the mapping the setup made",
            ),
        ),
    ),
    "ListFunctionEventInvokeConfigs[0]": Case(
        setups.function_settings(
            invoke_configs={
                "BLUE": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 0},
                "GREEN": {"MaximumEventAgeInSeconds": 1800, "MaximumRetryAttempts": 2},
            }
        ),
        allowed=(
            Allowed("FunctionEventInvokeConfigs", "order", NO_ORDER),
            Allowed(
                "FunctionEventInvokeConfigs[*].DestinationConfig",
                "added",
                "AWS answers an empty DestinationConfig ({OnFailure: {}, OnSuccess: {}}) in listed "
                "configs too "
                "(its recorded answers)",
            ),
        ),
    ),
    "ListFunctions[0]": Case(
        setups.two_listed_functions,
        setup_note="my-function without the example's empty VpcConfig: Flare refuses VpcConfig",
        allowed=(
            Allowed(
                "NextMarker",
                "absent",
                "AWS leaves NextMarker out when there is no next page (its recorded answers)",
            ),
            Allowed(
                "Functions[1].VpcConfig", "absent", "Flare runs no function in a VPC: it refuses VpcConfig"
            ),
        ),
    ),
    "ListLayerVersions[0]": Case(
        setups.layer(
            "blank-java-lib",
            2,
            CompatibleRuntimes=["java8"],
            Description="Dependencies for the blank-java sample app.",
        ),
        LAYERS,
        substitutions=(
            Substitution(
                "output.LayerVersions[0].Version",
                7,
                2,
                "the example's layer had 7 versions: the setup publishes 2",
            ),
            Substitution(
                "output.LayerVersions[0].LayerVersionArn",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:blank-java-lib:7",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:blank-java-lib:2",
                "likewise",
            ),
            Substitution("output.LayerVersions[1].Version", 6, 1, "likewise"),
            Substitution(
                "output.LayerVersions[1].LayerVersionArn",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:blank-java-lib:6",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:blank-java-lib:1",
                "likewise",
            ),
            renamed("blank-java-lib"),
        ),
    ),
    "ListLayers[0]": Case(
        setups.layer("my-layer", 2, CompatibleRuntimes=["python3.6", "python3.7"], Description="My layer"),
        LAYERS,
        substitutions=(renamed("my-layer"),),
    ),
    "ListProvisionedConcurrencyConfigs[0]": Case(
        setups.function_settings(provisioned=("BLUE", "GREEN")),
        allowed=(Allowed("ProvisionedConcurrencyConfigs", "order", NO_ORDER),),
        substitutions=scaled_down(
            *(
                f"output.ProvisionedConcurrencyConfigs[{index}].{name}"
                for index in (0, 1)
                for name in (
                    "AllocatedProvisionedConcurrentExecutions",
                    "AvailableProvisionedConcurrentExecutions",
                    "RequestedProvisionedConcurrentExecutions",
                )
            )
        ),
    ),
    "ListTags[0]": Case(setups.tagged({"Category": "Web Tools", "Department": "Sales"})),
    "ListVersionsByFunction[0]": Case(
        setups.versions_by_timeout,
        substitutions=(
            Substitution(
                "output.Versions[0].FunctionArn",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-function",
                f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-function:$LATEST",
                "AWS lists $LATEST with its qualified ARN (its recorded answers); the example does not",
            ),
        ),
        allowed=(Allowed("Versions[1].FunctionArn", "value", VERSION_ARN),),
    ),
    "PublishLayerVersion[0]": Case(
        setups.layer("my-layer", 0),
        substitutions=(
            Substitution("input.Content", S3_LAYER, {"ZipFile": LAYER_CODE}, ZIP),
            renamed("my-layer"),
        ),
    ),
    "PublishVersion[0]": Case(
        setups.timeout_5,
        allowed=(Allowed("FunctionArn", "value", VERSION_ARN),),
        substitutions=(
            Substitution(
                "input.FunctionName",
                "myFunction",
                "my-function",
                "the example publishes myFunction and answers my-function",
            ),
        ),
    ),
    "PutFunctionConcurrency[0]": Case(setups.my_function),
    "PutFunctionEventInvokeConfig[0]": Case(setups.my_function),
    "PutProvisionedConcurrencyConfig[0]": Case(
        setups.function_settings(),
        substitutions=scaled_down(
            "input.ProvisionedConcurrentExecutions", "output.RequestedProvisionedConcurrentExecutions"
        ),
        allowed=(
            Allowed(
                "AvailableProvisionedConcurrentExecutions",
                "added",
                "AWS answers AvailableProvisionedConcurrentExecutions 0 with IN_PROGRESS "
                "(its recorded answers)",
            ),
        ),
    ),
    "RemoveLayerVersionPermission[0]": Case(
        setups.layer_with_permission, (*LAYERS, "AddLayerVersionPermission"), (renamed("my-layer"),)
    ),
    "RemovePermission[0]": Case(setups.function_settings(permissions={"PROD": "223456789012"})),
    "TagResource[0]": Case(setups.my_function),
    "UntagResource[0]": Case(setups.my_function),
    "UpdateAlias[0]": Case(setups.alias_blue("1", 2)),
    "UpdateEventSourceMapping[0]": Case(
        setups.mapping("my-queue", "myFunction", "Enabled", BatchSize=10, MaximumBatchingWindowInSeconds=1),
        setup_note=WINDOW + " (the example updates the BatchSize to 123)",
        substitutions=(
            *the_setups_mapping("1234xCy789012"),
            Substitution(
                "output.EventSourceArn",
                "arn:aws:s3:::examplebucket/*",
                Made("queue"),
                "an S3 bucket is no source of mappings: the setup maps a queue",
            ),
        ),
        allowed=(
            Allowed("LastProcessingResult", "absent", STREAM_ONLY),
            Allowed(
                "State",
                "value",
                "the 2016 example's State is empty: AWS answers the mapping's state (Updating)",
            ),
            Allowed(
                "StateTransitionReason",
                "value",
                "the 2016 example's is empty: AWS answers USER_INITIATED for SQS",
            ),
        ),
    ),
    "UpdateFunctionCode[0]": Case(
        setups.plain_function,
        substitutions=(
            Substitution("input.S3Bucket", "my-bucket-1xpuxmplzrlbh", ABSENT, ZIP),
            Substitution("input.S3Key", "function.zip", ABSENT, ZIP),
            Substitution("input.ZipFile", ABSENT, CODE, ZIP),
        ),
    ),
    "UpdateFunctionConfiguration[0]": Case(setups.plain_function),
    "UpdateFunctionEventInvokeConfig[0]": Case(setups.latest_invoke_config),
}


def markdown() -> str:
    """Every example's substitutions, accepted differences and bug, as one Markdown table."""
    lines = [
        "| example | setup departs | substitutions | accepted differences | bug |",
        "| --- | --- | --- | --- | --- |",
    ]
    every = "; ".join(f"{s.old} -> {s.new} ({s.why})" for s in EVERY_EXAMPLE)
    lines.append(f"| every example | {EVERY_SETUP} | {every} | members added since: {_added_since()} | |")
    for key, case in CASES.items():
        substitutions = "; ".join(
            f"`{s.where}`: {_short(s.old)} -> {_short(s.new)} ({s.why})" for s in case.substitutions
        )
        allowed = "; ".join(f"`{a.path}` {a.kind} ({a.why})" for a in case.allowed)
        lines.append(f"| {key} | {case.setup_note} | {substitutions} | {allowed} | {case.bug or ''} |")
    return "\n".join(line.replace("\n", " ") for line in lines)


def _added_since() -> str:
    return "; ".join(
        f"{shape}.{member} ({why})"
        for shape, members in ADDED_SINCE.items()
        for member, why in members.items()
    )


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, Made) else f"<{value.key} the setup made>"
    return text if len(text) <= 60 else text[:57] + "..."


if __name__ == "__main__":
    print(markdown())
