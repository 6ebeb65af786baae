"""CloudFormation's intrinsic functions, for the values Flare owns. Pure.

``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select`` and ``Fn::Split`` are
resolved against pseudo parameters, the template's parameters and the attributes of resources
already deployed (``Intrinsics.record``). A resource's attribute that is not known yet (its
resource is still to be created, and the run only plans) resolves to ``UNKNOWN``, and so does
any string built from it. Any other function is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flare.errors import TemplateRefused


class Unknown:
    """A value known only after deploying (e.g. a version number not yet published)."""

    def __repr__(self) -> str:
        return "(known after deploy)"


UNKNOWN = Unknown()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
_FUNCTIONS = ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::Select", "Fn::Split")


def references(value: object) -> Iterator[str]:
    """The names ``value`` references (``Ref`` targets, ``GetAtt`` resources, ``Sub``
    variables' first part), logical ids and parameters alike, in order, repeats included."""
    if isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        if len(value) == 1 and "Ref" in value and isinstance(value["Ref"], str):
            yield value["Ref"]
        elif len(value) == 1 and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            yield str(target[0] if isinstance(target, list) else str(target).split(".", 1)[0])
        elif len(value) == 1 and "Fn::Sub" in value:
            text, variables = _sub_parts(value["Fn::Sub"])
            for name in _SUB_VARIABLE.findall(text):
                if name.split(".", 1)[0] not in variables:
                    yield name.split(".", 1)[0]
            yield from references(list(variables.values()))
        else:
            for item in value.values():
                yield from references(item)


class Intrinsics:
    """Resolves intrinsic functions; ``record`` adds a deployed resource's attributes (its
    ``Ref`` value under the key ``"Ref"``)."""

    def __init__(self, names: dict[str, Any]) -> None:
        # name (parameter, pseudo parameter) => value
        self._names = dict(names)
        # logical id => attribute ("Ref", "Arn", ...) => value
        self._attributes: dict[str, dict[str, Any]] = {}

    def record(self, logical_id: str, attributes: dict[str, Any]) -> None:
        self._attributes[logical_id] = attributes

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by its value. Raises TemplateRefused
        for an unknown name or attribute, or an unsupported function."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key in _FUNCTIONS:
                return self._call(key, argument)
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateRefused(f"{key} is not supported (supported: {', '.join(_FUNCTIONS)})")
        return {key: self.resolve(item) for key, item in value.items()}

    def _call(self, function: str, argument: Any) -> Any:
        if function == "Ref":
            return self._ref(str(argument))
        if function == "Fn::GetAtt":
            parts = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return self._attribute(str(parts[0]), str(self.resolve(parts[1])))
        if function == "Fn::Sub":
            return self._sub(argument)
        values = self.resolve(argument)
        if any(isinstance(item, Unknown) for item in _flat(values)):
            return UNKNOWN
        if function == "Fn::Join":
            return str(values[0]).join(str(item) for item in values[1])
        if function == "Fn::Select":
            return values[1][int(values[0])]
        return str(values[1]).split(str(values[0]))

    def _ref(self, name: str) -> Any:
        if name in self._names:
            return self._names[name]
        return self._attribute(name, "Ref")

    def _attribute(self, logical_id: str, attribute: str) -> Any:
        attributes = self._attributes.get(logical_id)
        if attributes is None:
            raise TemplateRefused(f"{logical_id} is neither a parameter nor a resource Flare deploys")
        if attribute not in attributes:
            shown = "Ref" if attribute == "Ref" else f"GetAtt {logical_id}.{attribute}"
            raise TemplateRefused(f"{shown}: Flare does not know this attribute of {logical_id}")
        return attributes[attribute]

    def _sub(self, argument: Any) -> Any:
        text, variables = _sub_parts(argument)
        local = {name: self.resolve(item) for name, item in variables.items()}
        pieces: list[str] = []
        position = 0
        for match in _SUB_VARIABLE.finditer(text):
            name = match.group(1)
            if name in local:
                found = local[name]
            elif "." in name and name not in self._names:
                found = self._attribute(*name.split(".", 1))
            else:
                found = self._ref(name)
            if isinstance(found, Unknown):
                return UNKNOWN
            pieces += [text[position : match.start()], str(found)]
            position = match.end()
        pieces.append(text[position:])
        return "".join(pieces).replace("${!", "${")


def _sub_parts(argument: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
        return str(argument[0]), dict(argument[1])
    if isinstance(argument, str):
        return argument, {}
    raise TemplateRefused(f"Fn::Sub takes a string or [string, variables], not {argument!r}")


def _flat(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _flat(item)
    else:
        yield value
