"""Node.js beside Python (``bench.beside_python``): ``nodejs20.x``, an async CommonJS handler,
at 128 MB; its "later" cold start waits 0.5 s, when the update's spare has booted."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from bench.beside_python import Beside
from bench.harness import NODE_HANDLER_SOURCE


def node_zip(_scratch: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.js", NODE_HANDLER_SOURCE)
    return buffer.getvalue()


NODE = Beside("node", "Node.js", "nodejs20.x", "index.handler", 128, 0.5, node_zip)
