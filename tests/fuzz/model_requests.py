"""Hypothesis strategies for requests to every operation of a botocore service model.

``well_formed(service, operation)`` draws an input from the operation's input shape (required
members always, optional ones sometimes; strings from the model's ``pattern`` where Python's
``re`` can read it, enums from their values, numbers within ``min``/``max``) and serializes it
with botocore's own serializer, exactly as boto3 would put it on the wire. ``mutated`` then
breaks one part of such a request: its body, path, query or headers.
"""

from __future__ import annotations

import functools
import io
import json
import re
import warnings
import zipfile
from typing import Any
from urllib.parse import urlencode

from botocore.model import ListShape, MapShape, OperationModel, Shape, StringShape, StructureShape
from botocore.serialize import create_serializer
from hypothesis import strategies as st

from flare.specs.models import service_model
from tests.conftest import zip_files
from tests.fuzz.raw_http import RawRequest

MAX_DEPTH = 4
SIGNING_NAMES = {"lambda": "lambda", "sqs": "sqs", "kinesis": "kinesis", "logs": "logs"}
# Inputs that would make a well-formed request wait on purpose (long polls): kept short.
CAPPED = {"WaitTimeSeconds": 0, "Limit": 100, "ShardCount": 4, "TargetShardCount": 4}


def _zip() -> bytes:
    return zip_files({"app.py": "def handler(event, context):\n    return event\n"})


VALID_ZIP = _zip()


def _pattern(shape: Shape) -> st.SearchStrategy[str] | None:
    pattern = shape.metadata.get("pattern")
    if not pattern:
        return None
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None
    try:
        return st.from_regex(compiled, fullmatch=True)
    except Exception:  # a construct hypothesis cannot generate from
        return None


def _string(shape: StringShape) -> st.SearchStrategy[str]:
    if shape.enum:
        return st.sampled_from(list(shape.enum))
    low = int(shape.metadata.get("min", 0))
    high = min(int(shape.metadata.get("max", 64)), 64)
    plain = st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
        min_size=min(low, high),
        max_size=max(low, high),
    )
    patterned = _pattern(shape)
    if patterned is None:
        return plain
    return st.one_of(patterned.map(lambda text: text[: max(high, low)]), plain)


def _number(shape: Shape, name: str) -> st.SearchStrategy[int]:
    if name in CAPPED:
        return st.integers(0, CAPPED[name])
    low = int(shape.metadata.get("min", -10))
    high = int(shape.metadata.get("max", 100_000))
    return st.integers(low, max(low, high))


def values(shape: Shape, name: str = "", depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of ``shape`` (``name`` is the member it is for)."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        members = shape.members
        required = {key: values(members[key], key, depth + 1) for key in shape.required_members}
        optional = (
            {}
            if depth >= MAX_DEPTH
            else {
                key: values(member, key, depth + 1)
                for key, member in members.items()
                if key not in required and not member.metadata.get("eventstream")
            }
        )
        return st.fixed_dictionaries(required, optional=optional)
    if kind == "list":
        assert isinstance(shape, ListShape)
        low = int(shape.metadata.get("min", 0))
        high = low if depth >= MAX_DEPTH else max(low, 3)
        return st.lists(values(shape.member, name, depth + 1), min_size=low, max_size=high)
    if kind == "map":
        assert isinstance(shape, MapShape)
        high = int(shape.metadata.get("min", 0)) if depth >= MAX_DEPTH else 3
        return st.dictionaries(
            values(shape.key, name, depth + 1), values(shape.value, name, depth + 1), max_size=high
        )
    if kind == "string":
        assert isinstance(shape, StringShape)
        return _string(shape)
    if kind in ("integer", "long"):
        return _number(shape, name)
    if kind in ("double", "float"):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        if name in ("ZipFile",):
            return st.sampled_from([VALID_ZIP, b"PK\x03\x04 not a zip"])
        return st.binary(max_size=64)
    if kind == "timestamp":
        return st.integers(0, 2_000_000_000)
    return st.none()


def _serialize(service: str, operation: OperationModel, params: dict[str, Any]) -> RawRequest:
    model = service_model(service)
    serialized = create_serializer(model.protocol, include_validation=False).serialize_to_request(
        params, operation
    )
    target = serialized["url_path"]
    query = serialized["query_string"]
    if query:
        target += ("&" if "?" in target else "?") + (
            query if isinstance(query, str) else urlencode(query, doseq=True)
        )
    headers = {key: str(value) for key, value in serialized["headers"].items()}
    body = serialized["body"]
    if isinstance(body, str):
        body = body.encode()
    if body and model.protocol == "rest-json":
        headers.setdefault("Content-Type", "application/json")
    return RawRequest(
        serialized["method"], target, tuple(headers.items()), body or b"", SIGNING_NAMES[service]
    )


def well_formed(service: str, name: str) -> st.SearchStrategy[RawRequest]:
    """Requests to ``service``'s operation ``name`` as boto3 sends them."""
    operation = service_model(service).operation_model(name)
    shape = operation.input_shape
    params = values(shape) if shape is not None else st.just({})
    return params.map(lambda drawn: _serialize(service, operation, drawn))


def operation_names(service: str) -> list[str]:
    return sorted(service_model(service).operation_names)


# --- mutations -------------------------------------------------------------------------------

NESTED_ARRAYS = b"[" * 10_000 + b"]" * 10_000
NESTED_OBJECTS = b'{"a":' * 10_000 + b"1" + b"}" * 10_000

FIXED_BODIES = {
    "empty": b"",
    "null": b"null",
    "array": b"[]",
    "number": b"42",
    "string": b'"text"',
    "open-brace": b"{",
    "cut-object": b'{"a":',
    "bad-utf8": b"\xff\xfe\xfd",
    "bad-utf8-value": b'{"FunctionName": "\xff\xfe"}',
    "lone-surrogate": b'{"a": "\\ud800"}',
    "three-objects": b"{}" * 3,
    "nested-arrays-10k": NESTED_ARRAYS,
    "nested-objects-10k": NESTED_OBJECTS,
    "nested-member-10k": b'{"x": ' + NESTED_ARRAYS + b"}",
    "huge-string": json.dumps({"Name": "x" * 1_000_000}).encode(),
    "huge-exponent": b'{"a": 1e999999}',
    "nan": b'{"a": -0, "b": NaN, "c": Infinity}',
    "huge-integer": b'{"a": 123456789012345678901234567890}',
}


def named(table: dict[str, Any]) -> st.SearchStrategy[Any]:
    """One of ``table``'s values, drawn (and shown in a failing example) by its name."""
    return st.sampled_from(sorted(table)).map(table.__getitem__)


BODIES = st.one_of(
    st.binary(max_size=256),
    named(FIXED_BODIES),
    st.dictionaries(
        st.text(max_size=20),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda inner: (
                st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=5,
    ).map(lambda document: json.dumps(document).encode()),
)

WRONG_TYPES: list[Any] = [None, True, 0, -1, 2**63, 1.5, "", "x" * 70, [], [1, "a"], {}, {"a": {"b": []}}]
LONG_VALUES = {
    "long-string": "x" * 70_000,
    "long-list": ["x"] * 10_000,
    "nested-json-text": NESTED_ARRAYS.decode(),
    "nested-list": json.loads("[" * 90 + "]" * 90),
}

SEGMENTS = [
    "..",
    ".",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2E%2E%2F%2E%2E%2F",
    "..%2f",
    "%2F",
    "%00",
    "a%00b",
    "%",
    "%zz",
    "%C0%AE%C0%AE%2F",
    "%FF%FE",
    "%E2%80%AE",
    "x" * 1_000,
    "%20",
    "a;b=c",
    "~",
    "..%5C..%5C",
    "con",
]

LONG_SEGMENTS = named({"long-segment": "x" * 10_000, "long-encoded": "%2F" * 3_000})

QUERIES = [
    "unknown=1",
    "Marker=%FF",
    "MaxItems=-1",
    "MaxItems=99999999999999999999",
    "MaxItems=abc",
    "Qualifier=..%2F..%2F",
    "Qualifier=%00",
    "offset=-5",
    "offset=1e9",
    "offset=" + "9" * 400,
    "a=1&a=2&a=3",
    "%zz=1",
    "=",
    "&&&",
    "x=" + "y" * 2_000,
]

HEADERS = [
    ("Content-Type", "text/plain"),
    ("Content-Type", "application/x-amz-json-1.1"),
    ("Content-Type", "application/json; charset=latin-1"),
    ("Content-Type", "multipart/form-data; boundary=x"),
    ("X-Amz-Invocation-Type", "Nonsense"),
    ("X-Amz-Invocation-Type", "Event"),
    ("X-Amz-Invocation-Type", "DryRun"),
    ("X-Amz-Log-Type", "Tail"),
    ("X-Amz-Log-Type", "\u00e9"),
    ("X-Amz-Client-Context", "!!!not base64!!!"),
    ("X-Amz-Client-Context", "bm90IGpzb24="),
    ("X-Amz-Target", "Nope.Nothing"),
    ("X-Amz-Target", "AmazonSQS."),
    ("X-Amz-Target", "Logs_20140328.StartLiveTail"),
    ("X-Amz-Security-Token", "x"),
    ("Accept", "application/vnd.amazon.eventstream"),
    ("Transfer-Encoding", "identity"),
    ("X-Amz-Durable-Execution-Name", "..%2F"),
    ("X-Big", "b" * 700),
    ("X-Latin", "\u00ff\u00fe"),
]


def _replace_body(request: RawRequest, body: bytes) -> RawRequest:
    return RawRequest(request.method, request.target, request.headers, body, request.service)


def _wrong_type(request: RawRequest, key_index: int, value: Any) -> RawRequest:
    try:
        document = json.loads(request.body) if request.body else {}
    except ValueError:
        return request
    if not isinstance(document, dict):
        return request
    keys = sorted(document) or ["FunctionName"]
    document[keys[key_index % len(keys)]] = value
    return _replace_body(request, json.dumps(document).encode())


def _with_segment(request: RawRequest, position: int, segment: str, replace: bool) -> RawRequest:
    path, mark, query = request.target.partition("?")
    parts = path.split("/")
    index = 1 + position % max(1, len(parts) - 1)
    if replace and index < len(parts):
        parts[index] = segment
    else:
        parts.insert(index, segment)
    return RawRequest(
        request.method, "/".join(parts) + mark + query, request.headers, request.body, request.service
    )


def _with_query(request: RawRequest, query: str) -> RawRequest:
    joiner = "&" if "?" in request.target else "?"
    return RawRequest(
        request.method, request.target + joiner + query, request.headers, request.body, request.service
    )


def _with_header(request: RawRequest, header: tuple[str, str]) -> RawRequest:
    kept = tuple(pair for pair in request.headers if pair[0].lower() != header[0].lower())
    return RawRequest(request.method, request.target, (*kept, header), request.body, request.service)


def mutated(requests: st.SearchStrategy[RawRequest]) -> st.SearchStrategy[RawRequest]:
    """``requests``, each broken in one place (or left whole)."""
    return st.one_of(
        requests,
        st.builds(_replace_body, requests, BODIES),
        st.builds(
            _wrong_type, requests, st.integers(0, 20), st.sampled_from(WRONG_TYPES) | named(LONG_VALUES)
        ),
        st.builds(
            _with_segment,
            requests,
            st.integers(0, 10),
            st.sampled_from(SEGMENTS) | LONG_SEGMENTS,
            st.booleans(),
        ),
        st.builds(
            _with_query, requests, st.sampled_from(QUERIES) | named({"long-query": "x=" + "y" * 20_000})
        ),
        st.builds(
            _with_header, requests, st.sampled_from(HEADERS) | named({"long-header": ("X-Big", "b" * 9_000)})
        ),
    )


# --- zips -------------------------------------------------------------------------------------


def _zip_of(entries: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore")  # a duplicate name is the point
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def _info(name: str, mode: int = 0o100644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _bomb(size_mb: int = 300) -> bytes:
    """One member of ``size_mb`` MB of zeros (300 MB compresses to ~300 KB): more than Lambda
    unzips."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(_info("bomb"), "w") as sink,
    ):
        chunk = b"\0" * (1 << 20)
        for _ in range(size_mb):
            sink.write(chunk)
    return buffer.getvalue()


def _lying_bomb() -> bytes:
    """A member whose headers claim 10 bytes but whose data inflates to 300 MB."""
    data = bytearray(_bomb())
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    data[local + 22 : local + 26] = (10).to_bytes(4, "little")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    return bytes(data)


def _many_entries(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index in range(count):
            archive.writestr(zipfile.ZipInfo(f"f{index}", date_time=(1980, 1, 1, 0, 0, 0)), b"")
    return buffer.getvalue()


@functools.cache
def bad_zips() -> dict[str, bytes]:
    """Archives a hostile client uploads, by what is wrong with them."""
    valid = VALID_ZIP
    return {
        "bomb": _bomb(),
        "lying-bomb": _lying_bomb(),
        "100k-entries": _many_entries(100_000),
        "symlink-out": _zip_of([(_info("app.py"), b"x"), (_info("link", 0o120777), b"/etc/passwd")]),
        "symlink-up": _zip_of([(_info("link", 0o120777), b"../../../../etc")]),
        "symlink-then-write": _zip_of([(_info("d", 0o120777), b"/tmp"), (_info("d/escape"), b"x")]),
        "dotdot": _zip_of([(_info("../../escape.py"), b"x")]),
        "absolute": _zip_of([(_info("/tmp/escape.py"), b"x")]),
        "backslash": _zip_of([(_info("..\\..\\escape.py"), b"x")]),
        "drive": _zip_of([(_info("C:/escape.py"), b"x")]),
        "duplicate": _zip_of([(_info("app.py"), b"a"), (_info("app.py"), b"b")]),
        "file-and-dir": _zip_of([(_info("a"), b"a"), (_info("a/b"), b"b")]),
        "truncated": valid[: len(valid) // 2],
        "no-central-directory": valid[: valid.rfind(b"PK\x01\x02")],
        "empty-zip": _zip_of([]),
        "not-a-zip": b"hello",
        "empty": b"",
        "crc-broken": valid.replace(b"return event", b"return evenT"),
        "nul-name": _zip_of([(_info("a\0b"), b"x")]),
    }
