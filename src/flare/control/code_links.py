"""Links that download a stored zip, signed and expiring like S3's presigned URLs.

AWS answers ``GetLayerVersion``'s ``Content.Location`` (and ``GetFunction``'s ``Code.Location``)
with a presigned S3 URL that is valid for 10 minutes. Flare has no S3: it serves the zip itself,
on its own port, at::

    http://<host:port the client called>/_flare/code/<sha256 hex of the zip>.zip
        ?Expires=<epoch seconds>&Signature=<hex>

``Signature`` is the HMAC-SHA256 of ``"<digest>\\n<expires>"`` under a key made when the engine
starts; ``Expires`` is 10 minutes after the link was made (the injected clock's wall time). A
link stops working once it expires, or when the engine restarts (a new key). As with S3's, anyone
holding a live link can download the zip. The checks are pure functions of the key and ``now``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from urllib.parse import urlencode

from flare.clock import Clock

PREFIX = "/_flare/code/"
VALID_FOR_S = 600
_DIGEST = re.compile(r"[0-9a-f]{64}")


class CodeLinks:
    """Makes and checks download links of stored zips (see the module docstring)."""

    def __init__(self, clock: Clock, key: bytes | None = None, valid_for_s: int = VALID_FOR_S) -> None:
        self._clock = clock
        self._key = key if key is not None else os.urandom(32)
        self._valid_for_s = valid_for_s

    def __repr__(self) -> str:
        return f"<CodeLinks valid for {self._valid_for_s} s>"

    def url(self, base_url: str, digest: str) -> str:
        """The link to zip ``digest`` (SHA-256 hex) under ``base_url`` (``http://host:port``)."""
        expires = str(int(self._clock.wall()) + self._valid_for_s)
        query = urlencode({"Expires": expires, "Signature": self._sign(digest, expires)})
        return f"{base_url}{PREFIX}{digest}.zip?{query}"

    def refusal(self, digest: str, expires: str | None, signature: str | None) -> str | None:
        """Why a request for ``digest`` with these query values must be refused, or None when
        the link is one of ours and still valid."""
        if not _DIGEST.fullmatch(digest) or not expires or not signature:
            return "Request is not a Flare download link"
        if not hmac.compare_digest(self._sign(digest, expires), signature):
            return "The request signature we calculated does not match the signature you provided"
        if not expires.isdigit() or int(expires) < self._clock.wall():
            return "Request has expired"
        return None

    def _sign(self, digest: str, expires: str) -> str:
        return hmac.new(self._key, f"{digest}\n{expires}".encode(), hashlib.sha256).hexdigest()
