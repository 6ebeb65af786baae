"""``GET /_flare/code/<sha256 hex>.zip?X-Amz-...``: the code a GetFunction ``Code.Location`` names.

Answers the exact zip (``application/zip``) while the signed URL is valid; otherwise 403 with
S3's XML error body (``AccessDenied`` "Request has expired", ``SignatureDoesNotMatch``), as a
stale or altered presigned S3 URL answers. Code that no version uses any more is a 404
``NoSuchKey``.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from aiohttp import web

from flare.control.code_url import PATH_PREFIX, CodeUrlRefused, CodeUrls
from flare.ids import new_request_id
from flare.store.blobs import BlobStore


def _s3_error(status: int, code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{new_request_id()}</RequestId></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


def add_routes(app: web.Application, urls: CodeUrls, blobs: BlobStore) -> None:
    async def download(request: web.Request) -> web.StreamResponse:
        digest = request.match_info["digest"]
        try:
            urls.check(digest, request.query)
        except CodeUrlRefused as refused:
            return _s3_error(403, refused.code, refused.message)
        path = blobs.path(digest)
        if not path.is_file():
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return web.FileResponse(path, headers={"Content-Type": "application/zip"})

    app.router.add_get(PATH_PREFIX + "{digest}.zip", download)
