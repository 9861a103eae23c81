"""One error type and one handler: JSON under /api, an HTML fragment for htmx, a page otherwise.

Bad input is never a 500: validation errors are turned into a sentence naming the field, and any
unexpected exception is logged and answered with a plain apology, never a traceback.
"""

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.serving.openai_schema import OpenAIError, is_openai_path, openai_error_response

log = logging.getLogger("course")

TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    422: "Invalid input",
    429: "Too many attempts",
    500: "Server error",
    503: "Busy",
}

MAX_DETAIL_CHARS = 600  # room for a sentence with a few named values; an echoed megabyte is cut here


class AppError(Exception):
    """An error meant for the person who caused it: a status, a sentence and any headers (Retry-After)."""

    def __init__(self, status_code: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers or {}


def describe_validation_errors(errors) -> str:
    """'option: Field required; …' from pydantic/FastAPI error dicts (location without 'body'/'query')."""
    parts = []
    for error in errors:
        loc = [str(x) for x in error.get("loc", ()) if x not in ("body", "query", "path")]
        field = shorten(".".join(loc), 80) or "request"
        parts.append(f"{field}: {error.get('msg', 'invalid value')}")
    return "; ".join(parts)


def shorten(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with an ellipsis: what a client sent is never echoed back whole."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_response(request: Request, status_code: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    detail = shorten(detail, MAX_DETAIL_CHARS)
    if is_openai_path(request.url.path):  # OpenAI's clients read only OpenAI's error shape
        return openai_error_response(OpenAIError(status_code, detail, headers=headers))
    if request.url.path.startswith("/api/") or request.url.path == "/healthz":
        return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)
    is_htmx = bool(request.headers.get("HX-Request"))
    if status_code == 401 and not is_htmx and request.method == "GET":
        # A page that needs an account sends the browser to log in, and back here afterwards.
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    templates = request.app.state.templates
    context = {"status_code": status_code, "title": TITLES.get(status_code, "Error"), "detail": detail}
    template = "_error.html" if is_htmx else "error.html"
    return templates.TemplateResponse(request, template, context, status_code=status_code, headers=headers)


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "A sentence naming what is wrong."}},
    "required": ["detail"],
}


def _document_error_shape(app: FastAPI) -> None:
    """FastAPI documents its own 422 body (a list of error objects); ours is `{"detail": "a sentence"}`,
    so the schema says that instead and clients generated from it read our errors right."""
    generate = app.openapi

    def openapi() -> dict:
        schema = generate()
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = ERROR_SCHEMA
            schemas.pop("ValidationError", None)
        return schema

    app.openapi = openapi


def install_error_handlers(app: FastAPI) -> None:
    _document_error_shape(app)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError):
        return error_response(request, exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no page at {request.url.path}."
        return error_response(request, exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return error_response(request, 422, describe_validation_errors(exc.errors()))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "Something went wrong on our side. It has been logged.")
