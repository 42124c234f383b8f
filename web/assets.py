"""Our static files and the front-end packages' built files, light on slow links.

Every URL built for them (``url_for('static' | 'vendor', filename=…)``, or ``static_url`` in a
template) carries the file's content hash, ``?v=<hash>``: a changed file gets a new URL, so a
versioned URL can be cached for a year (``immutable``: not even revalidated on reload). A request
with an old or no hash is still answered, revalidated each time. Text files are sent compressed
(Brotli or gzip, as the browser accepts), each compressed once per content and kept in a cache
bounded by bytes.
"""
from __future__ import annotations

import gzip
import hashlib
import mimetypes
from pathlib import Path

import brotli
from flask import Flask, Response, request
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

from engine.bytecache import MB, ByteLRU

STATIC = Path(__file__).resolve().parent / "static"
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
# Only the built files of the front-end packages we use are served, from our own server.
VENDOR_PREFIXES = ("bpmn-js/dist/", "echarts/dist/", "dmn-js/dist/")
IMMUTABLE = "public, max-age=31536000, immutable"
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml", "application/xml")
ENCODINGS = ("br", "gzip")  # in the order we prefer them

# (path, mtime, size) → content hash; (path, hash, encoding) → body.
_versions: ByteLRU[tuple[str, int, int], str] = ByteLRU("asset versions", 1 * MB)
_bodies: ByteLRU[tuple[str, str, str], bytes] = ByteLRU("compressed assets", 48 * MB,
                                                        size_of=lambda key, value: len(value) + 300)


def _path(endpoint: str, filename: str) -> Path | None:
    if endpoint == "vendor":
        if not filename.startswith(VENDOR_PREFIXES) or ".." in filename:
            return None
        folder = NODE_MODULES
    else:
        folder = STATIC
    joined = safe_join(str(folder), filename)
    if joined is None:
        return None
    path = Path(joined)
    return path if path.is_file() else None


def version(endpoint: str, filename: str) -> str | None:
    """The first 12 hex digits of the file's SHA-256 (None for a file that is not served)."""
    path = _path(endpoint, filename)
    if path is None:
        return None
    stat = path.stat()
    return _versions.get_or_build((str(path), stat.st_mtime_ns, stat.st_size),
                                  lambda: hashlib.sha256(path.read_bytes()).hexdigest()[:12])


def _add_version(endpoint: str, values: dict) -> None:
    if endpoint in ("static", "vendor") and "filename" in values and "v" not in values:
        found = version(endpoint, values["filename"])
        if found:
            values["v"] = found


def _encoding(mimetype: str) -> str | None:
    if not mimetype.startswith(COMPRESSIBLE):
        return None
    accepted = {part.split(";")[0].strip().lower() for part in request.headers.get("Accept-Encoding", "").split(",")}
    return next((e for e in ENCODINGS if e in accepted), None)


def _body(path: Path, digest: str, encoding: str | None) -> bytes:
    def build() -> bytes:
        data = path.read_bytes()
        if encoding == "br":
            return brotli.compress(data, quality=9)
        if encoding == "gzip":
            return gzip.compress(data, compresslevel=9, mtime=0)
        return data
    return _bodies.get_or_build((str(path), digest, encoding or ""), build)


def _serve(endpoint: str, filename: str) -> Response:
    path = _path(endpoint, filename)
    digest = version(endpoint, filename) if path is not None else None
    if path is None or digest is None:
        raise NotFound()
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if mimetype.startswith("text/") or mimetype == "application/javascript":
        mimetype += "; charset=utf-8"
    encoding = _encoding(mimetype)
    response = Response(_body(path, digest, encoding), content_type=mimetype)
    if encoding:
        response.headers["Content-Encoding"] = encoding
    response.headers["Vary"] = "Accept-Encoding"
    response.set_etag(f"{digest}-{encoding or 'identity'}")
    if request.args.get("v") == digest:
        response.headers["Cache-Control"] = IMMUTABLE
    else:  # an old page's URL, or one typed in: fine, but ask again next time
        response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    """Serve /static and /vendor with versioned URLs (the app is made with ``static_folder=None``)."""
    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=lambda filename: _serve("static", filename))
    app.add_url_rule("/vendor/<path:filename>", endpoint="vendor", view_func=lambda filename: _serve("vendor", filename))
    app.url_defaults(_add_version)

    @app.template_global()
    def static_url(filename: str) -> str:
        """The versioned URL of a file in web/static (or, as ``vendor/…``, of a front-end package's)."""
        from flask import url_for

        if filename.startswith("vendor/"):
            return url_for("vendor", filename=filename.removeprefix("vendor/"))
        return url_for("static", filename=filename)
