"""deploy/k8s agrees with the code: the node's arguments are ones `flare serve` accepts, and the
names that tie the manifests together (the Redis Service in `--cluster`, selectors, ports) match.

Schema validation against Kubernetes itself is offline and by hand (docs/scale.md); this test
keeps the manifests from drifting away from the CLI and from each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from flare.cli.serve import serve_command

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def _documents(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in docs if doc["kind"] == kind]
    return found


def _node_container() -> dict[str, Any]:
    daemon_set = _one(_documents("flare-nodes.yaml"), "DaemonSet")
    (container,) = daemon_set["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _serve_options(args: list[str]) -> dict[str, Any]:
    """What `flare serve` makes of ``args`` (parsed and type-checked, not run)."""
    context = serve_command.make_context("serve", list(args))
    return dict(context.params)


def test_the_node_arguments_are_accepted_by_flare_serve() -> None:
    container = _node_container()
    assert container["command"] == ["flare", "serve"]
    options = _serve_options(container["args"])
    assert options["cluster_url"].startswith("redis://")
    assert options["auth"] == "sigv4"  # required off loopback


def test_an_argument_flare_serve_does_not_know_is_refused() -> None:
    """The check above can fail: a misspelt option is a usage error."""
    with pytest.raises(click.UsageError):
        _serve_options(["--clusterr=redis://x:6379/0"])


def test_the_cluster_url_names_the_redis_statefulsets_first_pod() -> None:
    options = _serve_options(_node_container()["args"])
    host = urlsplit(options["cluster_url"]).hostname or ""
    redis_docs = _documents("redis.yaml")
    stateful_set = _one(redis_docs, "StatefulSet")
    service = _one(redis_docs, "Service")
    assert stateful_set["spec"]["serviceName"] == service["metadata"]["name"]
    assert host == f"{stateful_set['metadata']['name']}-0.{service['metadata']['name']}"
    assert urlsplit(options["cluster_url"]).port == service["spec"]["ports"][0]["port"]


def test_the_services_select_the_pods_and_reach_the_ports_they_listen_on() -> None:
    node_docs = _documents("flare-nodes.yaml")
    daemon_set = _one(node_docs, "DaemonSet")
    service = _one(node_docs, "Service")
    pod_labels = daemon_set["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    container = _node_container()
    port_names = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    assert port_names["lambda"] == _serve_options(container["args"])["port"]


def test_kustomization_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests
