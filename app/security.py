"""The server's outer defences, installed by one call: security headers and the CSP on every response,
the Host header checked against the trusted hosts, forwarded headers believed only from trusted proxies,
and JSON bodies capped in size. Authentication, CSRF and rate limits live in their own modules.
"""

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.errors import error_response
from app.settings import Settings

# Scripts only from this origin: no inline script, no eval. Plotly injects <style> elements for its
# charts (modebar, hover labels), so styles also allow 'unsafe-inline'; styles cannot run code.
# Images may be data: URLs (Plotly's modebar icons and PNG downloads).
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HSTS = "max-age=31536000; includeSubDomains"
JSON_TYPES = ("application/json",)


class SecurityHeadersMiddleware:
    """Adds the CSP and the other security headers to every response (pages, JSON, files, errors)."""

    def __init__(self, app: ASGIApp, https: bool):
        self.app = app
        self.headers = {
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
            "Referrer-Policy": "same-origin",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        }
        if https:
            self.headers["Strict-Transport-Security"] = HSTS
        # As raw ASGI header pairs, added to each response without parsing its headers into an object.
        self._raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A header the response set itself wins (like setdefault).
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in self._raw if pair[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class JSONBodyLimitMiddleware:
    """Refuses a JSON body over `max_bytes` with a 413, from its Content-Length when declared, else
    while it streams in otherwise (uploads have their own, larger limit in the CSRF middleware and the lab service)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if headers.get("content-type", "").split(";")[0].strip().lower() not in JSON_TYPES:
            await self.app(scope, receive, send)
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        # Read the body here (it is small by definition), so an oversize one is refused before the app sees it;
        # an exception raised from `receive` inside the app would be turned into a 400 by FastAPI instead.
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.requests import Request

        detail = f"The JSON body is larger than this server accepts ({self.max_bytes:,} bytes)."
        await error_response(Request(scope), 413, detail)(scope, receive, send)


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add the outer middleware (call it after every other `add_middleware`: the last added runs first)."""
    app.add_middleware(JSONBodyLimitMiddleware, max_bytes=settings.max_json_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware, https=settings.cookies_secure)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    if settings.trusted_proxy_list:
        # Outermost, so the host check, the rate limits and the logs all see the real client address.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
