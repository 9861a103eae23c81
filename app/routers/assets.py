"""Static files from the asset build (app.assets): a content-hashed URL is cached for a year as immutable;
the same file under its plain name (/static/app.css) is revalidated instead. Each is sent precompressed in
the best encoding the browser accepts (brotli, zstd or gzip), chosen per request, so `Vary: Accept-Encoding`.
"""

import mimetypes
import os

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from app.assets import ENCODINGS, Assets
from app.errors import AppError

router = APIRouter(prefix="/static", tags=["assets"])

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=0, must-revalidate"
mimetypes.add_type("image/svg+xml", ".svg")
mimetypes.add_type("text/javascript", ".js")


def _accepted(header: str) -> set[str]:
    """Encodings the client accepts (q=0 means refused)."""
    accepted = set()
    for part in header.lower().split(","):
        name, _, params = part.strip().partition(";")
        if params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            accepted.add(name.strip())
    return accepted


@router.get("/{path:path}")
def read_asset(path: str, request: Request) -> Response:
    """One built asset, by hashed name (immutable) or by its plain logical name (revalidated)."""
    assets: Assets = request.app.state.assets
    if path in assets.logical_by_file:
        logical, cache = assets.logical_by_file[path], IMMUTABLE
    elif path in assets.manifest:
        logical, cache = path, REVALIDATE
    else:
        raise AppError(404, f"There is no static file {path!r}.")
    entry = assets.manifest[logical]
    target = assets.root / entry["file"]
    headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    accepted = _accepted(request.headers.get("accept-encoding", ""))
    for encoding, suffix in ENCODINGS.items():
        if encoding in entry["encodings"] and encoding in accepted:
            headers["Content-Encoding"] = encoding
            target = target.with_name(target.name + suffix)
            break
    if not os.path.isfile(target):
        raise AppError(404, f"{target} is missing: rebuild the assets with `python -m app.assets build`.")
    return FileResponse(target, media_type=media_type, headers=headers)
