"""Reading a SigV4 signature off a request, and the checks AWS makes before the signature itself.

A request is signed one of two ways (AWS's "Signature Version 4"):

* an ``Authorization`` header: ``AWS4-HMAC-SHA256 Credential=<key id>/<YYYYMMDD>/<region>/
  <service>/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>``, dated by
  ``X-Amz-Date`` (or ``Date``);
* a presigned query: ``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
  ``X-Amz-Expires``, ``X-Amz-SignedHeaders`` and ``X-Amz-Signature`` parameters.

``claim_of`` reads either into a ``SignatureClaim`` or raises what AWS answers for a request
without one (``MissingAuthenticationToken``) or with a malformed one (``IncompleteSignature``,
its messages as AWS words them). ``check_time`` and ``check_scope`` are AWS's next checks
(``InvalidSignature``: 15 minutes of clock skew, a presigned request's lifetime, the credential
scope's service, terminator and date, ``host`` signed). Whether the signature is the right one
is ``canonical.py``'s business. Everything here is pure: no clock, no keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from flare.errors import IncompleteSignature, InvalidSignature, MissingAuthenticationToken

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
SKEW_S = 15 * 60
MAX_EXPIRES_S = 7 * 24 * 3600
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
TOKEN_HEADER = "x-amz-security-token"
QUERY_SIGNATURE = "X-Amz-Signature"
QUERY_PARTS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)
_HEADER_PARTS = ("Credential", "Signature", "SignedHeaders")
BASIC_FORMAT = re.compile(r"\d{8}T\d{6}Z")
# what boto3, the AWS CLI and the other SDKs send, read in one match (group 1: the credential);
# anything else takes the general reader below (same result, or AWS's error for what is wrong)
USUAL_HEADER = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/(aws4_request)),"
    r" ?SignedHeaders=([^,\s]+), ?Signature=([0-9a-f]+)"
)


@dataclass(frozen=True, slots=True)
class SignatureClaim:
    """What a request says about its signature, not yet checked.

    ``credential`` is the whole credential (``key/date/region/service/terminator``) and the
    next five fields its parts; ``timestamp`` is the request's date in ISO-8601 basic format
    (``20261204T170000Z``); ``expires`` is a presigned request's lifetime in seconds (None for
    a header); ``token`` is the session token (``X-Amz-Security-Token``), if any.
    """

    credential: str
    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: str
    signature: str
    timestamp: str
    expires: int | None = None
    token: str | None = None

    @property
    def presigned(self) -> bool:
        return self.expires is not None


def claim_of(headers: Mapping[str, str], query: Mapping[str, str]) -> SignatureClaim:
    """The signature a request carries: its ``Authorization`` header's, else its presigned
    query's. ``headers`` must answer lower-case names (aiohttp's and the front door's do).

    Raises MissingAuthenticationToken (neither, or an ``Authorization`` of another scheme) or
    IncompleteSignature (a malformed one)."""
    authorization = headers.get("authorization")
    if authorization is not None:
        return header_claim(authorization, headers)
    if QUERY_SIGNATURE in query or "X-Amz-Credential" in query or "X-Amz-Algorithm" in query:
        return query_claim(query)
    raise MissingAuthenticationToken()


def header_claim(authorization: str, headers: Mapping[str, str]) -> SignatureClaim:
    """The claim of an ``Authorization`` header (see ``claim_of``)."""
    usual = USUAL_HEADER.fullmatch(authorization)
    if usual is None:
        return _unusual_header_claim(authorization, headers)
    timestamp = request_timestamp(headers, authorization)
    credential, key, date, region, service, terminator, signed, signature = usual.groups()
    token = headers.get(TOKEN_HEADER)
    return SignatureClaim(
        credential, key, date, region, service, terminator, signed, signature, timestamp, None, token
    )


def _unusual_header_claim(authorization: str, headers: Mapping[str, str]) -> SignatureClaim:
    """``header_claim`` for a header ``USUAL_HEADER`` does not read: any order of the parts, spaces,
    or AWS's error for what is wrong with it."""
    algorithm, _, rest = authorization.strip().partition(" ")
    if not algorithm.startswith("AWS4-"):
        raise MissingAuthenticationToken()
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}' (only {ALGORITHM} for now). ")
    fields: dict[str, str] = {}
    for item in rest.replace(",", " ").split():
        name, equals, value = item.partition("=")
        if not equals:
            raise IncompleteSignature(
                f"'{item}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                f"'{authorization}'."
            )
        fields[name] = value
    problems = "".join(
        f"Authorization header requires '{part}' parameter. "
        for part in _HEADER_PARTS
        if not fields.get(part)
    )
    if headers.get("x-amz-date") is None and headers.get("date") is None:
        problems += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
    if problems:
        raise IncompleteSignature(f"{problems}Authorization={authorization}")
    timestamp = request_timestamp(headers, authorization)
    key, date, region, service, terminator = credential_parts(fields["Credential"])
    return SignatureClaim(
        fields["Credential"],
        key,
        date,
        region,
        service,
        terminator,
        fields["SignedHeaders"],
        fields["Signature"],
        timestamp,
        None,
        headers.get(TOKEN_HEADER),
    )


def query_claim(query: Mapping[str, str]) -> SignatureClaim:
    """The claim of a presigned query (see ``claim_of``)."""
    if query.get("X-Amz-Algorithm", ALGORITHM) != ALGORITHM:
        algorithm = query.get("X-Amz-Algorithm")
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}' (only {ALGORITHM} for now). ")
    if any(not query.get(part) for part in QUERY_PARTS):
        listed = ", ".join(f"'{part}'" for part in QUERY_PARTS)
        raise IncompleteSignature(
            f"AWS query-string parameters must include {listed}. Re-examine the query-string parameters."
        )
    timestamp = basic_format(query["X-Amz-Date"])
    expires_text = query["X-Amz-Expires"]
    if not expires_text.isdigit() or not 0 < int(expires_text) <= MAX_EXPIRES_S:
        raise IncompleteSignature(
            f"X-Amz-Expires must be a whole number of seconds from 1 to {MAX_EXPIRES_S}, got '{expires_text}'"
        )
    credential = query["X-Amz-Credential"]
    key, date, region, service, terminator = credential_parts(credential)
    return SignatureClaim(
        credential,
        key,
        date,
        region,
        service,
        terminator,
        query["X-Amz-SignedHeaders"],
        query[QUERY_SIGNATURE],
        timestamp,
        int(expires_text),
        query.get("X-Amz-Security-Token"),
    )


def credential_parts(credential: str) -> tuple[str, str, str, str, str]:
    """``(key id, date, region, service, terminator)`` of a credential; IncompleteSignature
    unless it has exactly five parts (a trailing ``/`` is ignored, as AWS does)."""
    parts = credential.rstrip("/").split("/")
    if len(parts) != 5 or not parts[0]:
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{credential}'"
        )
    return parts[0], parts[1], parts[2], parts[3], parts[4]


def request_timestamp(headers: Mapping[str, str], authorization: str) -> str:
    """The request's date (``X-Amz-Date``, else ``Date``) in ISO-8601 basic format. Raises
    IncompleteSignature when there is none or it is not a date."""
    amz_date = headers.get("x-amz-date")
    if amz_date is not None:
        return basic_format(amz_date)
    http_date = headers.get("date")
    if http_date is None:
        raise IncompleteSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            f"Authorization={authorization}"
        )
    try:
        return parsedate_to_datetime(http_date).astimezone(UTC).strftime(TIMESTAMP_FORMAT)
    except (TypeError, ValueError):
        raise IncompleteSignature(_not_basic(http_date)) from None


def basic_format(value: str) -> str:
    """``value`` when it is shaped as an ISO-8601 basic-format date (``20261204T170000Z``),
    else IncompleteSignature (``epoch_of`` finds a 13th month)."""
    if BASIC_FORMAT.fullmatch(value) is None:
        raise IncompleteSignature(_not_basic(value))
    return value


def _not_basic(value: str) -> str:
    return (
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def epoch_of(timestamp: str) -> float:
    """Epoch seconds of a date ``basic_format`` accepted; IncompleteSignature when it is no
    date (``20261304T000000Z``)."""
    try:
        return datetime.strptime(timestamp, TIMESTAMP_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise IncompleteSignature(_not_basic(timestamp)) from None


def timestamp_of(epoch: float) -> str:
    """ISO-8601 basic format of epoch seconds."""
    return datetime.fromtimestamp(epoch, UTC).strftime(TIMESTAMP_FORMAT)


def check_time(claim: SignatureClaim, signed_at: float, now: float) -> None:
    """Raise InvalidSignature, worded as AWS words it, when a request signed at ``signed_at``
    (``claim.timestamp`` in epoch seconds) is not acceptable at ``now``: more than 15 minutes
    off either way for a header; for a presigned query, signed more than 15 minutes ahead or
    past its ``X-Amz-Expires``."""
    if signed_at > now + SKEW_S:
        raise InvalidSignature(
            f"Signature not yet current: {claim.timestamp} is still later than "
            f"{timestamp_of(now + SKEW_S)} ({timestamp_of(now)} + 15 min.)"
        )
    if claim.expires is None:
        if signed_at < now - SKEW_S:
            raise InvalidSignature(
                f"Signature expired: {claim.timestamp} is now earlier than "
                f"{timestamp_of(now - SKEW_S)} ({timestamp_of(now)} - 15 min.)"
            )
    elif signed_at < now - claim.expires:
        raise InvalidSignature(
            f"Signature expired: {claim.timestamp} is now earlier than "
            f"{timestamp_of(now - claim.expires)} ({timestamp_of(now)} - {claim.expires} sec.)"
        )


def check_scope(claim: SignatureClaim, service: str) -> None:
    """Raise InvalidSignature unless ``claim``'s credential is scoped to ``service``, ends with
    ``aws4_request`` and names the request's own date, and ``host`` is a signed header (the
    region is not checked: any region is one, see ``flare.scope``)."""
    problems = []
    if claim.service != service:
        problems.append(f"Credential should be scoped to correct service: '{service}'.")
    if claim.terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{claim.terminator}'."
        )
    if claim.date != claim.timestamp[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{claim.date}' != '{claim.timestamp[:8]}', from '{claim.timestamp}'."
        )
    if problems:
        raise InvalidSignature(" ".join(problems))
    if "host" not in claim.signed_headers.lower().split(";"):
        raise InvalidSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.")
