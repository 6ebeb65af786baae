"""What each of AWS's examples assumes exists before it runs, made in an emptied account.

Each setup takes the ``Account`` and returns the values it made that the example refers to by
AWS's own placeholder (``Made`` substitutions: a mapping's UUID). The functions are made from
the CreateFunction example's own input (``my_function``) so Get*/List* answers show the
configuration that example documents.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from tests.conformance.account import ACCOUNT, REGION, Account

Setup = Callable[[Account], dict[str, Any]]

# The CreateFunction example's configuration, as run here (see the table's substitutions).
MY_FUNCTION: dict[str, Any] = {
    "Description": "Process image objects from Amazon S3.",
    "Environment": {"Variables": {"BUCKET": "my-bucket-1xpuxmplzrlbh", "PREFIX": "inbound"}},
    "Handler": "index.handler",
    "KMSKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/b0844d6c-xmpl-4463-97a4-d49f50839966",
    "MemorySize": 256,
    "Role": f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
    "Runtime": "python3.12",
    "Tags": {"DEPARTMENT": "Assets"},
    "Timeout": 15,
    "TracingConfig": {"Mode": "Active"},
}
LAYER = {
    "CompatibleRuntimes": ["python3.6", "python3.7"],
    "Description": "My Python layer",
    "LicenseInfo": "MIT",
}


_LAYER_NUMBERS = itertools.count(1)


def nothing(account: Account) -> dict[str, Any]:
    return {}


def my_function(account: Account, name: str = "my-function", **changes: Any) -> dict[str, Any]:
    account.function(name, **{**MY_FUNCTION, **changes})
    return {}


def plain_function(account: Account) -> dict[str, Any]:
    """A function with Lambda's defaults (the Update* examples answer 128 MB, 3 s, no description)."""
    account.function("my-function", Role=f"arn:aws:iam::{ACCOUNT}:role/lambda-role")
    return {}


def with_versions(count: int, *aliases: tuple[str, str], **changes: Any) -> Setup:
    """my-function with versions 1..count and ``(alias, version)`` aliases."""

    def setup(account: Account) -> dict[str, Any]:
        my_function(account, **changes)
        account.versions("my-function", count)
        for alias, version in aliases:
            account.lam.create_alias(FunctionName="my-function", Name=alias, FunctionVersion=version)
        return {}

    return setup


def function_settings(**settings: Any) -> Setup:
    """my-function with versions 1 and 2, aliases BLUE (1), GREEN (2) and PROD (1), then the
    settings each example reads or removes (provisioned concurrency: one environment each)."""

    def setup(account: Account) -> dict[str, Any]:
        with_versions(2, ("BLUE", "1"), ("GREEN", "2"), ("PROD", "1"))(account)
        lam = account.lam
        if "concurrency" in settings:
            lam.put_function_concurrency(
                FunctionName="my-function", ReservedConcurrentExecutions=settings["concurrency"]
            )
        for qualifier, config in settings.get("invoke_configs", {}).items():
            lam.put_function_event_invoke_config(FunctionName="my-function", Qualifier=qualifier, **config)
        for qualifier in settings.get("provisioned", ()):
            lam.put_provisioned_concurrency_config(
                FunctionName="my-function", Qualifier=qualifier, ProvisionedConcurrentExecutions=1
            )
            account.provisioned_ready("my-function", qualifier)
        for qualifier, principal in settings.get("permissions", {}).items():
            lam.add_permission(
                FunctionName="my-function",
                Qualifier=qualifier,
                StatementId="xaccount",
                Action="lambda:InvokeFunction",
                Principal=principal,
            )
        return {}

    return setup


def invoke_config_with_destination(account: Account) -> dict[str, Any]:
    destination = account.queue("failed-invocations")
    config = {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 0}
    function_settings(
        invoke_configs={"BLUE": {**config, "DestinationConfig": {"OnFailure": {"Destination": destination}}}}
    )(account)
    return {}


def latest_invoke_config(account: Account) -> dict[str, Any]:
    account.queue("destination")
    my_function(account)
    account.lam.put_function_event_invoke_config(
        FunctionName="my-function", MaximumEventAgeInSeconds=3600, MaximumRetryAttempts=0
    )
    return {}


def aliases_blue_and_green(account: Account) -> dict[str, Any]:
    with_versions(2)(account)
    account.lam.create_alias(
        FunctionName="my-function",
        Name="BLUE",
        FunctionVersion="2",
        Description="Production environment BLUE.",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.7}},
    )
    account.lam.create_alias(
        FunctionName="my-function",
        Name="GREEN",
        FunctionVersion="1",
        Description="Production environment GREEN.",
    )
    return {}


def alias_blue(version: str, count: int) -> Setup:
    def setup(account: Account) -> dict[str, Any]:
        with_versions(count)(account)
        account.lam.create_alias(
            FunctionName="my-function",
            Name="BLUE",
            FunctionVersion=version,
            Description="Production environment BLUE.",
        )
        return {}

    return setup


def mapping(queue: str, function: str = "my-function", wait_for: str | None = None, **config: Any) -> Setup:
    """``function`` reading Flare's queue ``queue``; ``{"uuid": ...}`` of the mapping."""

    def setup(account: Account) -> dict[str, Any]:
        arn = account.queue(queue)
        my_function(account, name=function)
        made = account.lam.create_event_source_mapping(FunctionName=function, EventSourceArn=arn, **config)
        if wait_for:
            account.mapping_state(made["UUID"], wait_for)
        return {"uuid": made["UUID"], "queue": arn}

    return setup


def queue(name: str) -> Setup:
    def setup(account: Account) -> dict[str, Any]:
        account.queue(name)
        my_function(account)
        return {}

    return setup


def functions(count: int) -> Setup:
    def setup(account: Account) -> dict[str, Any]:
        for number in range(count):
            account.function(f"function-{number}")
        return {}

    return setup


def two_listed_functions(account: Account) -> dict[str, Any]:
    """The two functions the ListFunctions example lists, as it shows them."""
    account.function(
        "helloworld",
        Handler="helloworld.handler",
        MemorySize=128,
        Timeout=3,
        Description="",
        Role=f"arn:aws:iam::{ACCOUNT}:role/service-role/MyTestFunction-role-zgur6bf4",
    )
    account.function(
        "my-function",
        Handler="index.handler",
        MemorySize=256,
        Timeout=3,
        Description="",
        Role=f"arn:aws:iam::{ACCOUNT}:role/service-role/helloWorldPython-role-uy3l9qyq",
    )
    return {}


def timeout_5(account: Account) -> dict[str, Any]:
    """my-function with the 5 s timeout of the version the PublishVersion example publishes."""
    return my_function(account, Timeout=5)


def versions_by_timeout(account: Account) -> dict[str, Any]:
    """Version 1 with a 5 s timeout, then $LATEST changed to 15 s (ListVersionsByFunction)."""
    my_function(account, Timeout=5)
    account.lam.publish_version(FunctionName="my-function")
    account.update("my-function", Timeout=15)
    return {}


def tagged(tags: dict[str, str]) -> Setup:
    def setup(account: Account) -> dict[str, Any]:
        return my_function(account, Tags=tags)

    return setup


def layer(name: str, count: int, **config: Any) -> Setup:
    """Versions 1..``count`` of a new layer named after ``name``; ``{"layer": its name}``.

    Layer version numbers are never reused, even after the versions are deleted, so each
    example gets a layer name of its own (``renamed`` substitutes it into the example)."""

    def setup(account: Account) -> dict[str, Any]:
        fresh = f"{name}-{next(_LAYER_NUMBERS)}"
        account.layer_versions(fresh, count, **config)
        return {"layer": fresh}

    return setup


def layer_with_permission(account: Account) -> dict[str, Any]:
    made = layer("my-layer", 1, **LAYER)(account)
    account.lam.add_layer_version_permission(
        LayerName=made["layer"],
        VersionNumber=1,
        StatementId="xaccount",
        Action="lambda:GetLayerVersion",
        Principal="223456789012",
    )
    return made
