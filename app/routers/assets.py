"""Front-end files: third-party ones straight from node_modules (installed by npm), never a CDN."""

from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from app.content import pygments_css
from app.errors import AppError

router = APIRouter(prefix="/static/vendor", tags=["assets"])

# name served → path inside node_modules; only these files are reachable.
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "hx-sse.min.js": "htmx.org/dist/ext/hx-sse.min.js",
    "plotly.min.js": "plotly.js-dist-min/plotly.min.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",  # the API docs page (app.routers.api_docs)
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
}
ONE_DAY_S = 86_400


@lru_cache(maxsize=1)
def _highlight_css() -> str:
    return pygments_css()


@router.get("/highlight.css")
def read_highlight_css() -> Response:
    """Code-block colours for both themes, generated from Pygments."""
    return Response(
        _highlight_css(), media_type="text/css", headers={"Cache-Control": f"public, max-age={ONE_DAY_S}"}
    )


@router.get("/{name}")
def read_vendor_file(name: str, request: Request) -> FileResponse:
    """One whitelisted file from node_modules."""
    relative = VENDOR_FILES.get(name)
    if relative is None:
        raise AppError(404, f"There is no vendor file {name!r}.")
    path = request.app.state.settings.node_modules_dir / relative
    if not path.is_file():
        raise AppError(404, f"{relative} is missing: run `npm ci` (make run does it for you).")
    return FileResponse(path, headers={"Cache-Control": f"public, max-age={ONE_DAY_S}"})
