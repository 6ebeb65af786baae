"""Function code as clients send it: the ``Code`` structure (or UpdateFunctionCode's body).

Flare takes ``ZipFile`` (base64 in the JSON) only; S3 locations and container images are
rejected. All functions here are pure.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from flare.errors import InvalidParameterValue, InvalidRequestContent, RequestTooLarge

MAX_REQUEST_BASE64 = 70_167_211
ZIP_ONLY_MESSAGE = "Flare accepts Code.ZipFile only"


def decode_zip(code: object, operation: str) -> bytes:
    """The zip bytes of a ``Code`` structure (or UpdateFunctionCode body).

    Raises InvalidParameterValue for S3 or image code, RequestTooLarge for an oversized upload,
    InvalidRequestContent when ZipFile is not base64.
    """
    if not isinstance(code, dict) or any(code.get(key) for key in ("S3Bucket", "S3Key", "ImageUri")):
        raise InvalidParameterValue(ZIP_ONLY_MESSAGE)
    encoded = code.get("ZipFile")
    if not isinstance(encoded, str) or not encoded:
        raise InvalidParameterValue(ZIP_ONLY_MESSAGE)
    if len(encoded) > MAX_REQUEST_BASE64:
        raise RequestTooLarge(
            f"Request must be smaller than {MAX_REQUEST_BASE64} bytes for the {operation} operation"
        )
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise InvalidRequestContent("Could not parse request body into json: ZipFile is not base64") from None


def fields(data: bytes) -> dict[str, Any]:
    """The configuration fields that describe zip ``data``: ``CodeSha256`` (base64 of its
    SHA-256) and ``CodeSize``."""
    sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return {"CodeSha256": sha, "CodeSize": len(data)}
