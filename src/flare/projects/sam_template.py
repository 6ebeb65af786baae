"""Read a SAM or CloudFormation template and turn it into plain CloudFormation resources.

YAML (with CloudFormation's short-form tags ``!Ref``, ``!GetAtt``, ``!Sub``...) and JSON are read
by the translator's own loader; a template with ``Transform: AWS::Serverless-2016-10-31`` is
translated by ``aws-sam-translator`` exactly as CloudFormation would (Globals merged, events
expanded into mappings, rules, permissions, aliases and versions).

Code stays local: the translator wants every ``CodeUri`` / ``ContentUri`` in S3, as ``sam
package`` leaves them, so each local path is swapped for a placeholder object in the bucket
``PLACEHOLDER_BUCKET`` before translation and ``code_path`` maps the translated ``Code`` back to
the directory or zip it names (relative paths are from the template's directory). Code already
in S3 is refused: Flare has no S3 to fetch it from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flare.errors import TemplateRefused

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
PLACEHOLDER_BUCKET = "flare-local-code"
# resource type => the property naming its code
_CODE_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Lambda::Function": "Code",
    "AWS::Lambda::LayerVersion": "Content",
}


@dataclass
class Template:
    """A template as plain CloudFormation: ``resources`` by logical id, each ``{"Type",
    "Properties", "DependsOn"?...}``; ``parameters`` the values of its Parameters (their
    defaults, then the overrides); ``code`` placeholder key => the local path it stands for."""

    resources: dict[str, dict[str, Any]]
    parameters: dict[str, Any]
    directory: Path
    code: dict[str, Path] = field(default_factory=dict)
    stack_name: str = ""  # the name the project gives its stack (serverless.yml: service-stage)

    def code_path(self, code: object) -> Path | None:
        """The local path a translated ``Code`` / ``Content`` stands for; None if it is not one
        of this template's placeholders."""
        if isinstance(code, dict) and code.get("S3Bucket") == PLACEHOLDER_BUCKET:
            return self.code.get(str(code.get("S3Key")))
        return None


def read(path: Path, region: str, account: str, overrides: dict[str, str] | None = None) -> Template:
    """The template at ``path`` as plain CloudFormation.

    Raises TemplateRefused: unreadable, not a mapping with Resources, code in S3, a parameter
    without a value, or refused by the SAM translator (its message kept)."""
    return _from_document(_parse(path), path, region, account, overrides)


def read_serverless(
    path: Path, region: str, account: str, options: dict[str, str], environ: Mapping[str, str]
) -> Template:
    """The Serverless Framework project at ``path`` (its serverless.yml) as plain CloudFormation;
    ``options`` are its ``--opt`` values (``stage``...). Raises TemplateRefused as ``read`` does,
    and for what ``serverless_config`` refuses."""
    from flare.projects import serverless_config

    document = _load(path)
    if not isinstance(document, dict) or not isinstance(document.get("functions"), dict):
        raise TemplateRefused(f"{path} is not a serverless.yml: it has no functions section")
    sam = serverless_config.to_sam(document, options, environ)
    template = _from_document(sam, path, region, account, {})
    template.stack_name = serverless_config.stack_name(document, options, environ)
    return template


def _from_document(
    document: dict[str, Any], path: Path, region: str, account: str, overrides: dict[str, str] | None
) -> Template:
    _check_resources(document, path)
    template = Template({}, {}, path.resolve().parent)
    template.parameters = _parameter_values(document, overrides or {})
    _localize_code(document, template)
    if _transforms(document) - {SAM_TRANSFORM}:
        raise TemplateRefused(f"only the {SAM_TRANSFORM} transform is supported")
    if SAM_TRANSFORM in _transforms(document):
        document = _translate(document, template.parameters, region, account)
    template.resources = dict(document.get("Resources") or {})
    return template


def _load(path: Path) -> Any:
    from samtranslator.yaml_helper import yaml_parse
    from yaml import YAMLError

    try:
        return yaml_parse(path.read_text())
    except (OSError, UnicodeDecodeError, YAMLError) as error:
        raise TemplateRefused(f"cannot read {path}: {error}") from None


def _parse(path: Path) -> dict[str, Any]:
    document = _load(path)
    if not isinstance(document, dict):
        raise TemplateRefused(f"{path} is not a template: it has no Resources section")
    return document


def _check_resources(document: dict[str, Any], path: Path) -> None:
    if not isinstance(document.get("Resources"), dict):
        raise TemplateRefused(f"{path} is not a template: it has no Resources section")
    for logical_id, resource in document["Resources"].items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateRefused(f"resource {logical_id} has no Type")


def _transforms(document: dict[str, Any]) -> set[str]:
    transform = document.get("Transform") or []
    return {str(item) for item in (transform if isinstance(transform, list) else [transform])}


def _parameter_values(document: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, definition in (document.get("Parameters") or {}).items():
        if name in overrides:
            values[name] = overrides[name]
        elif isinstance(definition, dict) and "Default" in definition:
            values[name] = definition["Default"]
        else:
            raise TemplateRefused(f"parameter {name} has no Default: give it with --parameter {name}=VALUE")
    return values


def _localize_code(document: dict[str, Any], template: Template) -> None:
    """Swap every local code path (in resources and in Globals) for a placeholder S3 object."""
    globals_function = ((document.get("Globals") or {}).get("Function")) or {}
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = _sam_uri(_placeholder(globals_function["CodeUri"], "Globals", template))
    for logical_id, resource in document["Resources"].items():
        key = _CODE_PROPERTIES.get(resource["Type"])
        properties = resource.get("Properties")
        if key is None or not isinstance(properties, dict) or key not in properties:
            continue
        value = properties[key]
        if key in ("Code", "Content") and isinstance(value, dict):
            if set(value) - {"ZipFile"}:
                raise TemplateRefused(f"{logical_id}: {key} in S3 is not supported: give a local path")
            continue
        placeholder = _placeholder(value, logical_id, template)
        properties[key] = _sam_uri(placeholder) if key.endswith("Uri") else placeholder


def _placeholder(value: object, logical_id: str, template: Template) -> dict[str, str]:
    if not isinstance(value, str) or value.startswith("s3://"):
        raise TemplateRefused(
            f"{logical_id}: code must be a local directory or .zip (Flare has no S3 to fetch {value!r} from)"
        )
    path = (template.directory / value).resolve()
    if not path.exists():
        raise TemplateRefused(f"{logical_id}: code path {path} does not exist")
    key = str(len(template.code))
    template.code[key] = path
    return {"S3Bucket": PLACEHOLDER_BUCKET, "S3Key": key}


def _sam_uri(placeholder: dict[str, str]) -> dict[str, str]:
    """A placeholder as SAM spells an S3 location (``CodeUri: {Bucket, Key}``); the translator
    turns it back into Lambda's ``{S3Bucket, S3Key}``."""
    return {"Bucket": placeholder["S3Bucket"], "Key": placeholder["S3Key"]}


def _translate(
    document: dict[str, Any], parameters: dict[str, Any], region: str, account: str
) -> dict[str, Any]:
    import boto3.session
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    values = {**parameters, "AWS::AccountId": account, "AWS::Region": region}
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        translated: dict[str, Any] = translator.translate(
            document, parameter_values=values, get_managed_policy_map=dict
        )
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause.message) for cause in error.causes)
        raise TemplateRefused(f"the SAM translator refused the template: {causes}") from None
    return translated
