"""GetFunction's ``Code.Location``: a URL that downloads the exact zip, signed and expiring.

AWS answers with a presigned S3 URL valid for 10 minutes. Flare answers with a URL of its own
port shaped the same way::

    http://<host>/_flare/code/<sha256 hex>.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256
        &X-Amz-Date=20261204T170000Z&X-Amz-Expires=600&X-Amz-Signature=<64 hex>

The signature is an HMAC-SHA256, under a key kept in the data directory, of the digest, the
date and the lifetime; so a URL cannot be pointed at other code or kept alive longer, and the
server need not remember the URLs it gave out. Times come from the injected clock. The
functions are pure; ``CodeUrls`` binds them to a key and a clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlencode

from flare.clock import Clock

EXPIRES_S = 600
PATH_PREFIX = "/_flare/code/"
ALGORITHM = "AWS4-HMAC-SHA256"
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_DIGEST = re.compile(r"[0-9a-f]{64}")


class CodeUrlRefused(Exception):
    """The URL is not one Flare signed, or it expired. ``code`` and ``message`` are S3's."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _signature(key: bytes, digest: str, date: str, expires: str) -> str:
    return hmac.new(key, f"{digest}\n{date}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(key: bytes, base_url: str, digest: str, now: float) -> str:
    """The URL under ``base_url`` (``http://host:port``) that downloads code ``digest`` for the
    next ``EXPIRES_S`` seconds after ``now`` (epoch seconds)."""
    date = datetime.fromtimestamp(now, tz=UTC).strftime(_DATE_FORMAT)
    query = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Date": date,
        "X-Amz-Expires": str(EXPIRES_S),
        "X-Amz-Signature": _signature(key, digest, date, str(EXPIRES_S)),
    }
    return f"{base_url}{PATH_PREFIX}{digest}.zip?{urlencode(query)}"


def check(key: bytes, digest: str, query: Mapping[str, str], now: float) -> None:
    """Raise CodeUrlRefused unless ``digest`` with ``query`` is a URL ``signed_url`` made that
    has not expired at ``now``."""
    date, expires, signature = (
        query.get(name, "") for name in ("X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature")
    )
    if not _DIGEST.fullmatch(digest) or not signature or not expires.isdigit():
        raise CodeUrlRefused(
            "AccessDenied", "Query-string authentication requires the Signature, Expires and Date."
        )
    if not hmac.compare_digest(signature, _signature(key, digest, date, expires)):
        raise CodeUrlRefused(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    signed = datetime.strptime(date, _DATE_FORMAT).replace(tzinfo=UTC).timestamp()
    if now > signed + int(expires):
        raise CodeUrlRefused("AccessDenied", "Request has expired")


class CodeUrls:
    """``signed_url`` and ``check`` under one key, on one clock."""

    def __init__(self, key: bytes, clock: Clock) -> None:
        self._key = key
        self._clock = clock

    def url(self, base_url: str, digest: str) -> str:
        return signed_url(self._key, base_url, digest, self._clock.wall())

    def check(self, digest: str, query: Mapping[str, str]) -> None:
        check(self._key, digest, query, self._clock.wall())
