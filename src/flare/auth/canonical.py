"""The signature a request should carry, computed by botocore's SigV4 signer from what arrived.

AWS verifies a SigV4 signature by signing the request again, as the client did, and comparing.
So does Flare, with botocore's own signer (``botocore.auth.SigV4Auth``, the code boto3 and the
AWS CLI sign with): from the method, the path and query exactly as sent, the headers the
signature names (``SignedHeaders``) and the payload's SHA-256, botocore's helpers build the
canonical request (``_normalize_url_path``, ``_canonical_query_string_url``, ``_header_value``)
and the string to sign (``string_to_sign``); the signing key is derived as botocore's
``signature`` derives it (``_sign``, four HMACs from ``AWS4<secret>``).

Only the inputs are fed differently: botocore's ``canonical_request`` takes an ``AWSRequest``
and signs *every* header it has, where a verifier must take the ones the signature names, and
an ``AWSRequest`` per invoke costs ~40 µs. What repeats is cached (each bounded):

* the signing key per (secret, date, region, service), as an HMAC ready to copy;
* the canonical path per raw path and the canonical query per raw query (an invoke's repeat);
* botocore's signer per (region, service), and the split of each ``SignedHeaders`` value.

The payload's SHA-256 is always computed from the body: a request's ``X-Amz-Content-SHA256``
header, when present, is part of what is signed but never stands in for the body (a body
altered in flight then fails the signature instead of riding on the declared hash).

``tests/unit/test_canonical.py`` checks every result against botocore signing the same
request with ``SigV4Auth.add_auth`` / ``SigV4QueryAuth``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from urllib.parse import SplitResult

from botocore.auth import SigV4Auth

from flare.auth.sigv4 import QUERY_SIGNATURE, SignatureClaim

CACHE_LIMIT = 4096
"""Entries each cache keeps before it starts over (a cache is emptied whole when full)."""
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class _Timestamp:
    """The one thing botocore's ``string_to_sign`` reads off a request: its timestamp."""

    __slots__ = ("context",)

    def __init__(self, timestamp: str) -> None:
        self.context = {"timestamp": timestamp}


Cache = TypeVar("Cache", bound=dict[Any, Any])


def bounded(cache: Cache) -> Cache:
    """``cache``, emptied first when it holds ``CACHE_LIMIT`` entries (so no cache grows past
    it, however many keys, paths or dates requests bring)."""
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    return cache


class Canonicalizer:
    """Computes the signature a request should carry (see the module docstring). Not thread
    safe: use it from one thread (the event loop's)."""

    def __init__(self) -> None:
        self._signers: dict[tuple[str, str], Any] = {}
        self._keys: dict[tuple[str, str, str, str], hmac.HMAC] = {}
        self._paths: dict[str, str] = {}
        self._queries: dict[str, str] = {}
        self._names: dict[str, tuple[str, ...]] = {}

    def signature(
        self,
        secret: str,
        claim: SignatureClaim,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """The hex signature ``secret`` gives the request: ``method``, ``path`` and ``query`` as
        sent (raw, still percent-encoded; ``query`` without ``?``), ``headers`` answering
        lower-case names (each a single value: repeated headers joined with ``,``), ``body``.
        A request holding text no signer could have encoded (a lone surrogate, from bytes that
        are not UTF-8) has no signature: "" (which matches none)."""
        signer = self._signer(claim.region, claim.service)
        canonical = self.canonical_request(signer, claim, method, path, query, headers, body)
        try:
            string_to_sign: str = signer.string_to_sign(_Timestamp(claim.timestamp), canonical)
            key = self._key(signer, secret, claim.timestamp[:8], claim.region, claim.service).copy()
            key.update(string_to_sign.encode())
        except UnicodeEncodeError:
            return ""
        return key.hexdigest()

    def canonical_request(
        self,
        signer: Any,
        claim: SignatureClaim,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """SigV4's canonical request of what arrived, as botocore builds it for the client."""
        canonical_path = self._paths.get(path)
        if canonical_path is None:
            canonical_path = bounded(self._paths)[path] = signer._normalize_url_path(path)
        if claim.presigned:
            query = "&".join(pair for pair in query.split("&") if not pair.startswith(QUERY_SIGNATURE + "="))
        canonical_query = self._queries.get(query)
        if canonical_query is None:
            split = SplitResult("", "", "", query, "")
            canonical_query = bounded(self._queries)[query] = signer._canonical_query_string_url(split)
        names = self._names.get(claim.signed_headers)
        if names is None:
            names = tuple(sorted({name.strip().lower() for name in claim.signed_headers.split(";")}))
            bounded(self._names)[claim.signed_headers] = names
        value = signer._header_value
        canonical_headers = "".join(f"{name}:{value(headers.get(name, ''))}\n" for name in names)
        payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        signed = ";".join(names)
        return f"{method}\n{canonical_path}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload}"

    def _signer(self, region: str, service: str) -> Any:
        signer = self._signers.get((region, service))
        if signer is None:
            signer = bounded(self._signers)[(region, service)] = SigV4Auth(cast(Any, None), service, region)
        return signer

    def _key(self, signer: Any, secret: str, date: str, region: str, service: str) -> hmac.HMAC:
        """The signing key of (secret, date, region, service), derived as botocore's
        ``SigV4Auth.signature`` derives it, as an HMAC-SHA256 keyed with it."""
        found = self._keys.get((secret, date, region, service))
        if found is None:
            k_date = signer._sign(f"AWS4{secret}".encode(), date)
            k_region = signer._sign(k_date, region)
            k_service = signer._sign(k_region, service)
            k_signing = signer._sign(k_service, "aws4_request")
            found = hmac.new(k_signing, digestmod=hashlib.sha256)
            bounded(self._keys)[(secret, date, region, service)] = found
        return found


def signatures_match(expected: str, claimed: str) -> bool:
    """Compare two hex signatures in constant time (an empty ``expected`` matches nothing)."""
    return bool(expected) and hmac.compare_digest(expected.encode(), claimed.encode("utf-8", "replace"))
