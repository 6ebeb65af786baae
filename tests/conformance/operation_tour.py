"""A call of every operation of botocore's Lambda model, each one answered as Flare answers it.

``TOUR`` has one ``Call`` per operation: what to ``prepare`` first (each call makes what it
needs, so the calls run in any order) and the parameters to send. A ``refused`` call is one
that ``flare.api.coverage.REFUSALS`` says Flare refuses on purpose; it names the error Flare
answers (which the checker holds to the operation's modeled errors and their statuses).
``Resources`` makes, once each, the function, versions, aliases, queue, mapping, code signing
config and layer the calls refer to.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.conformance.account import ACCOUNT, LAYER_CODE, REGION, until
from tests.conftest import zip_files

SOURCE = """\
def handler(event, context):
    if isinstance(event, dict) and event.get("fail"):
        raise RuntimeError("asked to fail")
    return event
"""
CODE = zip_files({"app.py": SOURCE})
# A durable handler that reports PENDING without checkpointing: its execution stays RUNNING.
DURABLE_CODE = zip_files({"app.py": 'def handler(event, context):\n    return {"Status": "PENDING"}\n'})
ROLE = f"arn:aws:iam::{ACCOUNT}:role/tour"
PROFILE = f"arn:aws:signer:{REGION}:{ACCOUNT}:/signing-profiles/tour/abcdef1234"
DURABLE = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tour:$LATEST/durable-execution/run/abc"
CAPACITY = {
    "CapacityProviderName": "tour",
    "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": []},
    "PermissionsConfig": {"CapacityProviderOperatorRoleArn": ROLE},
}
URLS = ("CreateFunctionUrlConfig",)
LAYERS = ("PublishLayerVersion",)
LAYER_POLICIES = ("PublishLayerVersion", "AddLayerVersionPermission")
MANAGED = "InvalidParameterValueException"  # Managed Instances: not supported by Flare
NONE_EXISTS = "ResourceNotFoundException"  # durable executions / capacity providers: none exists


@dataclass
class Resources:
    """What the calls refer to, made on first use through the suite's checked client."""

    lam: Any
    sqs: Any
    made: list[str] = field(default_factory=list)

    name = "tour"

    def fresh(self, prefix: str) -> str:
        """A name not used before: calls may run more than once (a missing-function test reuses
        their parameters)."""
        self.made.append(prefix)
        return f"{prefix}{len(self.made)}"

    @functools.cached_property
    def arn(self) -> str:
        self.lam.create_function(
            FunctionName=self.name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": CODE},
        )
        self.active(self.name)
        self.lam.publish_version(FunctionName=self.name)
        self.lam.create_alias(FunctionName=self.name, Name="LIVE", FunctionVersion="1")
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"

    def active_function(self) -> str:
        """The tour's function's ARN, the function made on first use and now Active."""
        arn = self.arn
        self.active(self.name)
        return arn

    def active(self, name: str) -> None:
        def ready() -> bool | None:
            config = self.lam.get_function_configuration(FunctionName=name)
            done = config["State"] == "Active" and config.get("LastUpdateStatus") != "InProgress"
            return True if done else None

        until(ready, f"{name} to be Active")

    def function(self, prefix: str) -> str:
        """A further function (the calls that delete one make their own)."""
        name = self.fresh(prefix)
        self.lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": CODE}
        )
        self.active(name)
        return name

    def queue(self, name: str) -> str:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        return str(
            self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        )

    def mapping(self, queue: str) -> str:
        """A disabled mapping of the tour's function on the queue ``queue`` (one per queue)."""
        assert self.arn
        source = self.queue(self.fresh(queue))
        made = self.lam.create_event_source_mapping(
            FunctionName=self.name, EventSourceArn=source, Enabled=False
        )
        return str(made["UUID"])

    @functools.cached_property
    def mapping_uuid(self) -> str:
        return self.mapping("tour-mapped")

    def signing_config(self) -> str:
        answer = self.lam.create_code_signing_config(
            AllowedPublishers={"SigningProfileVersionArns": [PROFILE]}
        )
        return str(answer["CodeSigningConfig"]["CodeSigningConfigArn"])

    @functools.cached_property
    def signing_arn(self) -> str:
        return self.signing_config()

    @functools.cached_property
    def layer(self) -> str:
        self.lam.publish_layer_version(LayerName="tour-layer", Content={"ZipFile": LAYER_CODE})
        return "tour-layer"

    def alias(self, prefix: str) -> str:
        assert self.arn
        name = self.fresh(prefix)
        self.lam.create_alias(FunctionName=self.name, Name=name, FunctionVersion="1")
        return name

    def permission(self, prefix: str) -> str:
        assert self.arn
        sid = self.fresh(prefix)
        self.lam.add_permission(
            FunctionName=self.name,
            StatementId=sid,
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
        )
        return sid

    def url_alias(self) -> str:
        """A new alias of the tour's function with a function URL (AuthType NONE)."""
        alias = self.alias("URL")
        self.lam.create_function_url_config(FunctionName=self.name, Qualifier=alias, AuthType="NONE")
        return alias

    @functools.cached_property
    def durable_function(self) -> str:
        name = "tour-durable"
        self.lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": DURABLE_CODE},
            DurableConfig={"ExecutionTimeout": 3600},
        )
        self.active(name)
        return name

    def durable_execution(self) -> str:
        """A new RUNNING durable execution (an Event invoke of a durable function)."""
        answer = self.lam.invoke(FunctionName=self.durable_function, InvocationType="Event", Payload=b"{}")
        return str(answer["DurableExecutionArn"])

    def paused_execution(self) -> str:
        """A new durable execution, paused."""
        arn = self.durable_execution()
        self.lam.pause_durable_execution(DurableExecutionArn=arn)
        return arn

    def stopped_execution(self) -> str:
        """A new durable execution, stopped (ended)."""
        arn = self.durable_execution()
        self.lam.stop_durable_execution(DurableExecutionArn=arn)
        return arn

    def layer_permission(self, prefix: str) -> str:
        sid = self.fresh(prefix)
        self.lam.add_layer_version_permission(
            LayerName=self.layer,
            VersionNumber=1,
            StatementId=sid,
            Action="lambda:GetLayerVersion",
            Principal="*",
        )
        return sid


Params = Callable[[Resources], dict[str, Any]]


@dataclass(frozen=True)
class Call:
    params: Params
    prepare: Callable[[Resources], object] = lambda resources: None
    refused: str | None = None
    bug: str | None = None
    needs: tuple[str, ...] = ()  # operations ``prepare`` calls


def fn(**extra: Any) -> Params:
    """``{"FunctionName": <the tour's function>, **extra}`` (made on first use)."""
    return lambda r: {"FunctionName": r.name, **extra} if r.arn else {}


POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "tour",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:tour",
            }
        ],
    }
)

TOUR: dict[str, Call] = {
    # functions, versions, aliases
    "CreateFunction": Call(
        lambda r: {
            "FunctionName": "tour-created",
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "app.handler",
            "Code": {"ZipFile": CODE},
        }
    ),
    "GetFunction": Call(fn()),
    "GetFunctionConfiguration": Call(fn(Qualifier="LIVE")),
    "UpdateFunctionConfiguration": Call(fn(Description="toured"), prepare=Resources.active_function),
    "UpdateFunctionCode": Call(fn(ZipFile=CODE), prepare=Resources.active_function),
    "DeleteFunction": Call(lambda r: {"FunctionName": r.function("tour-doomed")}),
    "ListFunctions": Call(lambda r: {"FunctionVersion": "ALL", "MaxItems": 50} if r.arn else {}),
    "PublishVersion": Call(fn(), prepare=Resources.active_function),
    "ListVersionsByFunction": Call(fn()),
    "CreateAlias": Call(fn(Name="CREATED", FunctionVersion="1")),
    "GetAlias": Call(fn(Name="LIVE")),
    "UpdateAlias": Call(fn(Name="LIVE", Description="toured")),
    "DeleteAlias": Call(lambda r: {"FunctionName": r.name, "Name": r.alias("DOOMED")}),
    "ListAliases": Call(fn()),
    # invoking
    "Invoke": Call(fn(Payload=b'{"a": 1}', LogType="Tail")),
    "InvokeAsync": Call(fn(InvokeArgs=b"{}")),
    "InvokeWithResponseStream": Call(fn(Payload=b"{}")),
    # concurrency
    "PutFunctionConcurrency": Call(fn(ReservedConcurrentExecutions=10)),
    "GetFunctionConcurrency": Call(fn()),
    "DeleteFunctionConcurrency": Call(fn()),
    "PutProvisionedConcurrencyConfig": Call(fn(Qualifier="LIVE", ProvisionedConcurrentExecutions=1)),
    "GetProvisionedConcurrencyConfig": Call(
        fn(Qualifier="LIVE"),
        prepare=lambda r: r.lam.put_provisioned_concurrency_config(
            FunctionName=r.name, Qualifier="LIVE", ProvisionedConcurrentExecutions=1
        ),
    ),
    "ListProvisionedConcurrencyConfigs": Call(fn()),
    "DeleteProvisionedConcurrencyConfig": Call(
        fn(Qualifier="LIVE"),
        prepare=lambda r: r.lam.put_provisioned_concurrency_config(
            FunctionName=r.name, Qualifier="LIVE", ProvisionedConcurrentExecutions=1
        ),
    ),
    "GetAccountSettings": Call(lambda r: {}),
    # asynchronous invocation
    "PutFunctionEventInvokeConfig": Call(fn(MaximumRetryAttempts=1)),
    "UpdateFunctionEventInvokeConfig": Call(fn(MaximumEventAgeInSeconds=600)),
    "GetFunctionEventInvokeConfig": Call(
        fn(),
        prepare=lambda r: r.lam.put_function_event_invoke_config(FunctionName=r.name, MaximumRetryAttempts=2),
    ),
    "ListFunctionEventInvokeConfigs": Call(fn()),
    "DeleteFunctionEventInvokeConfig": Call(
        fn(Qualifier="1"),
        prepare=lambda r: r.lam.put_function_event_invoke_config(
            FunctionName=r.name, Qualifier="1", MaximumRetryAttempts=0
        ),
    ),
    # event source mappings
    "CreateEventSourceMapping": Call(
        lambda r: (
            {
                "FunctionName": r.name,
                "EventSourceArn": r.queue("tour-created"),
                "BatchSize": 5,
                "Enabled": False,
            }
            if r.arn
            else {}
        )
    ),
    "GetEventSourceMapping": Call(lambda r: {"UUID": r.mapping_uuid}),
    "UpdateEventSourceMapping": Call(lambda r: {"UUID": r.mapping_uuid, "BatchSize": 7}),
    "DeleteEventSourceMapping": Call(lambda r: {"UUID": r.mapping("tour-doomed")}),
    "ListEventSourceMappings": Call(fn()),
    # permissions and resource policies
    "AddPermission": Call(
        fn(StatementId="added", Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
    ),
    "GetPolicy": Call(fn(), prepare=lambda r: r.permission("for-get")),
    "RemovePermission": Call(lambda r: {"FunctionName": r.name, "StatementId": r.permission("doomed")}),
    "PutResourcePolicy": Call(lambda r: {"ResourceArn": r.arn, "Policy": POLICY}),
    "GetResourcePolicy": Call(
        lambda r: {"ResourceArn": r.arn},
        prepare=lambda r: r.lam.put_resource_policy(ResourceArn=r.arn, Policy=POLICY),
    ),
    "DeleteResourcePolicy": Call(
        lambda r: {"ResourceArn": r.arn},
        prepare=lambda r: r.lam.put_resource_policy(ResourceArn=r.arn, Policy=POLICY),
    ),
    # tags
    "TagResource": Call(lambda r: {"Resource": r.arn, "Tags": {"team": "tour"}}),
    "ListTags": Call(lambda r: {"Resource": r.arn}),
    "UntagResource": Call(lambda r: {"Resource": r.arn, "TagKeys": ["team"]}),
    # code signing
    "CreateCodeSigningConfig": Call(
        lambda r: {"AllowedPublishers": {"SigningProfileVersionArns": [PROFILE]}, "Description": "tour"}
    ),
    "GetCodeSigningConfig": Call(lambda r: {"CodeSigningConfigArn": r.signing_arn}),
    "UpdateCodeSigningConfig": Call(
        lambda r: {"CodeSigningConfigArn": r.signing_arn, "Description": "toured"}
    ),
    "DeleteCodeSigningConfig": Call(lambda r: {"CodeSigningConfigArn": r.signing_config()}),
    "ListCodeSigningConfigs": Call(lambda r: {}),
    "ListFunctionsByCodeSigningConfig": Call(lambda r: {"CodeSigningConfigArn": r.signing_arn}),
    "PutFunctionCodeSigningConfig": Call(
        lambda r: {"FunctionName": r.name, "CodeSigningConfigArn": r.signing_arn} if r.arn else {}
    ),
    "GetFunctionCodeSigningConfig": Call(
        fn(),
        prepare=lambda r: r.lam.put_function_code_signing_config(
            FunctionName=r.name, CodeSigningConfigArn=r.signing_arn
        ),
    ),
    "DeleteFunctionCodeSigningConfig": Call(
        fn(),
        prepare=lambda r: r.lam.put_function_code_signing_config(
            FunctionName=r.name, CodeSigningConfigArn=r.signing_arn
        ),
    ),
    # runtime and recursion settings
    "PutFunctionRecursionConfig": Call(fn(RecursiveLoop="Allow")),
    "GetFunctionRecursionConfig": Call(fn()),
    "PutRuntimeManagementConfig": Call(fn(UpdateRuntimeOn="FunctionUpdate")),
    "GetRuntimeManagementConfig": Call(fn()),
    # function URLs
    "CreateFunctionUrlConfig": Call(fn(AuthType="NONE")),
    "GetFunctionUrlConfig": Call(lambda r: {"FunctionName": r.name, "Qualifier": r.url_alias()}, needs=URLS),
    "UpdateFunctionUrlConfig": Call(
        lambda r: {"FunctionName": r.name, "Qualifier": r.url_alias(), "AuthType": "AWS_IAM"}, needs=URLS
    ),
    "ListFunctionUrlConfigs": Call(fn()),
    "DeleteFunctionUrlConfig": Call(
        lambda r: {"FunctionName": r.name, "Qualifier": r.url_alias()}, needs=URLS
    ),
    # layers
    "PublishLayerVersion": Call(
        lambda r: {
            "LayerName": "tour-layer",
            "Content": {"ZipFile": LAYER_CODE},
            "CompatibleRuntimes": ["python3.12"],
        }
    ),
    "GetLayerVersion": Call(lambda r: {"LayerName": r.layer, "VersionNumber": 1}, needs=LAYERS),
    "GetLayerVersionByArn": Call(
        lambda r: {"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{r.layer}:1"}, needs=LAYERS
    ),
    "ListLayers": Call(lambda r: {}),
    "ListLayerVersions": Call(lambda r: {"LayerName": r.layer}, needs=LAYERS),
    "AddLayerVersionPermission": Call(
        lambda r: {
            "LayerName": r.layer,
            "VersionNumber": 1,
            "StatementId": "added",
            "Action": "lambda:GetLayerVersion",
            "Principal": "*",
        },
        needs=LAYERS,
    ),
    "GetLayerVersionPolicy": Call(
        lambda r: {"LayerName": r.layer, "VersionNumber": 1},
        prepare=lambda r: r.layer_permission("for-get"),
        needs=LAYER_POLICIES,
    ),
    "RemoveLayerVersionPermission": Call(
        lambda r: {"LayerName": r.layer, "VersionNumber": 1, "StatementId": r.layer_permission("doomed")},
        needs=LAYER_POLICIES,
    ),
    "DeleteLayerVersion": Call(
        lambda r: {"LayerName": "tour-doomed-layer", "VersionNumber": 1},
        prepare=lambda r: r.lam.publish_layer_version(
            LayerName="tour-doomed-layer", Content={"ZipFile": LAYER_CODE}
        ),
        needs=LAYERS,
    ),
    # Lambda Managed Instances: refused
    "CreateCapacityProvider": Call(lambda r: CAPACITY, refused=MANAGED),
    "GetCapacityProvider": Call(lambda r: {"CapacityProviderName": "tour"}, refused=NONE_EXISTS),
    "UpdateCapacityProvider": Call(lambda r: {"CapacityProviderName": "tour"}, refused=NONE_EXISTS),
    "DeleteCapacityProvider": Call(lambda r: {"CapacityProviderName": "tour"}, refused=NONE_EXISTS),
    "ListCapacityProviders": Call(lambda r: {}),
    "ListFunctionVersionsByCapacityProvider": Call(
        lambda r: {"CapacityProviderName": "tour"}, refused=NONE_EXISTS
    ),
    "GetFunctionScalingConfig": Call(fn(Qualifier="1"), refused=MANAGED),
    "PutFunctionScalingConfig": Call(
        fn(Qualifier="1", FunctionScalingConfig={"MinExecutionEnvironments": 1}), refused=MANAGED
    ),
    # durable executions
    "ListDurableExecutionsByFunction": Call(lambda r: {"FunctionName": r.durable_function}),
    "GetDurableExecution": Call(lambda r: {"DurableExecutionArn": r.durable_execution()}),
    "GetDurableExecutionHistory": Call(lambda r: {"DurableExecutionArn": r.durable_execution()}),
    "StopDurableExecution": Call(lambda r: {"DurableExecutionArn": r.durable_execution()}),
    # only the running invocation's token is valid: the tour has none
    "GetDurableExecutionState": Call(
        lambda r: {"DurableExecutionArn": DURABLE, "CheckpointToken": "t"},
        refused="InvalidParameterValueException",
    ),
    "CheckpointDurableExecution": Call(
        lambda r: {"DurableExecutionArn": DURABLE, "CheckpointToken": "t"},
        refused="InvalidParameterValueException",
    ),
    "DeleteDurableExecution": Call(lambda r: {"DurableExecutionArn": r.stopped_execution()}),
    "PauseDurableExecution": Call(lambda r: {"DurableExecutionArn": r.durable_execution()}),
    "ResumeDurableExecution": Call(lambda r: {"DurableExecutionArn": r.paused_execution()}),
    "SendDurableExecutionCallbackSuccess": Call(
        lambda r: {"CallbackId": "Y2ItMQ==", "Result": b"{}"}, refused=NONE_EXISTS
    ),
    "SendDurableExecutionCallbackFailure": Call(lambda r: {"CallbackId": "Y2ItMQ=="}, refused=NONE_EXISTS),
    "SendDurableExecutionCallbackHeartbeat": Call(lambda r: {"CallbackId": "Y2ItMQ=="}, refused=NONE_EXISTS),
}
