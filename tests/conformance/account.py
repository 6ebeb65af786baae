"""The account an example runs in: what its setup makes (functions, versions, aliases, queues,
layers) and ``clear()``, which empties it so every example starts from nothing, as the examples
assume (``ListFunctions`` lists exactly the functions its setup made).

Every call goes through the suite's checked client, so setup answers are checked too. Waits
poll the API with short sleeps until the state AWS's waiters wait for is reached.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flare.config import DEFAULT_ACCOUNT_ID, DEFAULT_REGION
from tests.conftest import zip_files

T = TypeVar("T")

# The suite's server is started with Flare's defaults: its functions live in this account and region.
ACCOUNT = DEFAULT_ACCOUNT_ID
REGION = DEFAULT_REGION

# What the examples' functions run: Lambda's Python runtime calls index.handler.
HANDLER_SOURCE = "def handler(event, context):\n    return '200 SUCCESS'\n"
CODE = zip_files({"index.py": HANDLER_SOURCE})
LAYER_CODE = zip_files({"python/example_layer.py": "VALUE = 1\n"})


@dataclass
class Account:
    lam: Any
    sqs: Any
    answered: frozenset[str]

    def clear(self) -> None:
        """Delete every mapping, function, layer version and code signing config."""
        for mapping in self.lam.list_event_source_mappings()["EventSourceMappings"]:
            # one an example deleted is listed (Deleting) until its deletion ends: maybe just now
            with contextlib.suppress(self.lam.exceptions.ResourceNotFoundException):
                self.lam.delete_event_source_mapping(UUID=mapping["UUID"])
        for function in self.lam.list_functions()["Functions"]:
            self.lam.delete_function(FunctionName=function["FunctionName"])
        if {"ListLayers", "ListLayerVersions", "DeleteLayerVersion"} <= self.answered:
            for layer in self.lam.list_layers()["Layers"]:
                versions = self.lam.list_layer_versions(LayerName=layer["LayerName"])["LayerVersions"]
                for version in versions:
                    self.lam.delete_layer_version(
                        LayerName=layer["LayerName"], VersionNumber=version["Version"]
                    )
        for config in self.lam.list_code_signing_configs()["CodeSigningConfigs"]:
            self.lam.delete_code_signing_config(CodeSigningConfigArn=config["CodeSigningConfigArn"])

    def function(self, name: str, **config: Any) -> dict[str, Any]:
        """Create ``name`` (the examples' code unless ``Code`` is given) and wait until Active."""
        config.setdefault("Code", {"ZipFile": CODE})
        config.setdefault("Runtime", "python3.12")
        config.setdefault("Handler", "index.handler")
        config.setdefault("Role", f"arn:aws:iam::{ACCOUNT}:role/lambda-role")
        answer: dict[str, Any] = self.lam.create_function(FunctionName=name, **config)
        self.settled(name)
        return answer

    def settled(self, name: str, qualifier: str | None = None) -> dict[str, Any]:
        """The configuration of ``name`` once it is Active and no update is in progress."""
        extra = {"Qualifier": qualifier} if qualifier else {}

        def ready() -> dict[str, Any] | None:
            config: dict[str, Any] = self.lam.get_function_configuration(FunctionName=name, **extra)
            done = config.get("State") == "Active" and config.get("LastUpdateStatus") != "InProgress"
            return config if done else None

        return until(ready, f"{name} to be Active")

    def update(self, name: str, **config: Any) -> None:
        self.lam.update_function_configuration(FunctionName=name, **config)
        self.settled(name)

    def versions(self, name: str, count: int) -> None:
        """Publish versions 1..``count`` of ``name``, each after a change of its timeout (Flare
        publishes no new version after a change of the description alone)."""
        for number in range(1, count + 1):
            if number > 1:
                self.update(name, Timeout=30 + number)
            self.lam.publish_version(FunctionName=name)
            self.settled(name, str(number))

    def queue(self, name: str) -> str:
        """The ARN of Flare's own SQS queue ``name`` (made if needed)."""
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn: str = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return arn

    def mapping_state(self, uuid: str, wanted: str) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            mapping: dict[str, Any] = self.lam.get_event_source_mapping(UUID=uuid)
            return mapping if mapping["State"] == wanted else None

        return until(reached, f"mapping {uuid} to be {wanted}")

    def provisioned_ready(self, name: str, qualifier: str) -> None:
        def ready() -> bool | None:
            config = self.lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
            return True if config["Status"] == "READY" else None

        until(ready, f"provisioned concurrency of {name}:{qualifier} to be READY")

    def layer_versions(self, name: str, count: int, **config: Any) -> None:
        for _ in range(count):
            self.lam.publish_layer_version(LayerName=name, Content={"ZipFile": LAYER_CODE}, **config)


def until(probe: Callable[[], T | None], what: str, timeout: float = 20) -> T:
    """``probe()``'s first answer that is not None, polled every 20 ms; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.02)
    raise AssertionError(f"waited {timeout} s for {what}")
