"""The floor under any ASGI app on uvicorn: one that does nothing but answer, for ``bench_http``.

    python benchmarks/asgi_floor.py FILE PORT

Serves ``FILE``'s bytes, read once, at every path: 304 when the request
carries ``If-None-Match`` (any value), else 200, with the same headers our
server sends and under the same uvicorn settings, but with no ``stat``, no
lookup and no work on the headers beyond looking for that one.  What it
answers per second is the most a Python app under uvicorn can answer on the
machine, and tells how much of the distance to nginx is ours and how much is
the server's.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import uvicorn


def make_app(body: bytes) -> Any:
    """An ASGI app answering every GET with ``body`` or a 304, as ``digest.web.server`` would."""
    etag = b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'
    common = [
        (b"vary", b"Accept-Encoding"),
        (b"etag", etag),
        (b"last-modified", b"Thu, 01 Jan 2026 00:00:00 GMT"),
        (b"cache-control", b"public, max-age=300"),
        (b"x-content-type-options", b"nosniff"),
    ]
    full = [(b"content-type", b"application/atom+xml; charset=utf-8"), *common]
    full.append((b"content-length", str(len(body)).encode()))

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        conditional = any(name == b"if-none-match" for name, _ in scope["headers"])
        start = {"type": "http.response.start", "status": 304 if conditional else 200}
        await send({**start, "headers": common if conditional else full})
        await send({"type": "http.response.body", "body": b"" if conditional else body})

    return app


if __name__ == "__main__":
    app = make_app(Path(sys.argv[1]).read_bytes())
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_config=None, access_log=False)
