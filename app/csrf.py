"""CSRF protection for every state-changing request: starlette-csrf's double-submit cookie, extended,
and bound to the session: a signed-in session only accepts a token signed for its own session nonce,
so a token planted or copied from elsewhere does not pass.

The token travels in the `x-csrftoken` header (htmx sends it from `<body hx-headers:inherited>`, API
clients copy the `csrftoken` cookie) or, for plain HTML forms that must work without JavaScript, in
a hidden `csrftoken` form field. Both are checked here, in one place. The token of this request is
known before the page renders, so even the very first page a browser gets carries a working one.
"""

import hashlib
import http.cookies
import secrets
from functools import lru_cache
from urllib.parse import parse_qs

from itsdangerous import BadData

from markupsafe import Markup, escape
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send
from starlette_csrf import CSRFMiddleware

from app.errors import error_response

COOKIE_NAME = "csrftoken"
HEADER_NAME = "x-csrftoken"
FORM_FIELD = "csrftoken"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# A token's signature is checked once per token, not on every request of the browser (bounded, oldest out).
# Only values of a signed token's length (~120 characters) are remembered: ~16,384 × 0.4 kB = 7 MB at most.
VERIFIED_TOKENS = 16_384
CACHED_TOKEN_CHARS = 160
REFUSAL = "The form's security token is missing or out of date (CSRF check). Reload the page and try again."


def _session_binding(scope: Scope) -> str:
    """What a token is bound to: the signed-in session's nonce (new at every login), else `anonymous`."""
    session = scope.get("session") or {}
    return str(session.get("nonce") or "anonymous")


def _digest(binding: str) -> str:
    # The token is signed with the secret key; this only keeps the session's nonce out of a JS-readable cookie.
    return hashlib.sha256(binding.encode()).hexdigest()[:24]


class _FormTooLarge(Exception):
    """A form body past the middleware's buffering limit."""


class CourseCSRFMiddleware(CSRFMiddleware):
    """starlette-csrf, plus: the token may come from a form field, and the page can render it.

    Looking for the field means buffering the body, so a form body over `max_form_bytes` (declared or
    actual) is refused with a 413 before more of it is read.
    """

    def __init__(self, app, max_form_bytes: int = 10_000_000, **kwargs):
        super().__init__(app, **kwargs)
        self.max_form_bytes = max_form_bytes
        self._verified_binding = lru_cache(maxsize=VERIFIED_TOKENS)(self._signed_binding)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        cookie = request.cookies.get(self.cookie_name)
        # A cookie this server did not sign for this session (another session's, a planted one, an old
        # key's) is replaced, not trusted.
        binding = _session_binding(scope)
        bound = bool(cookie) and self._is_bound(cookie, binding)
        token = cookie if bound else self._bound_token(binding)
        scope.setdefault("state", {})["csrf_token"] = token

        if request.method not in self.safe_methods and not self._url_is_exempt(request.url):
            try:
                submitted, receive = await self._submitted_token(scope, receive)
            except _FormTooLarge:
                detail = f"The upload is larger than this server accepts ({self.max_form_bytes:,} bytes)."
                response = error_response(Request(scope), 413, detail)
                await response(scope, receive, self._with_cookie(scope, send, token, cookie, binding))
                return
            if not (bound and submitted and secrets.compare_digest(cookie, submitted)):
                response = error_response(Request(scope, receive), 403, REFUSAL)
                await response(scope, receive, self._with_cookie(scope, send, token, cookie, binding))
                return
        await self.app(scope, receive, self._with_cookie(scope, send, token, cookie, binding))

    def _bound_token(self, binding: str) -> str:
        return self.serializer.dumps([secrets.token_urlsafe(32), _digest(binding)])

    def _is_bound(self, token: str, binding: str) -> bool:
        signed = self._verified_binding(token) if len(token) <= CACHED_TOKEN_CHARS else self._signed_binding(token)
        return signed is not None and signed == _digest(binding)

    def _signed_binding(self, token: str) -> str | None:
        """The binding digest this server signed into `token`, or None for a token it did not sign."""
        try:
            value = self.serializer.loads(token)
        except BadData:
            return None
        return value[1] if isinstance(value, list) and len(value) == 2 and isinstance(value[1], str) else None

    def _with_cookie(self, scope: Scope, send: Send, token: str, cookie: str | None, binding: str) -> Send:
        """`token` is bound to `binding`, the session as the request began."""

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Logging in or out changes the session, and so the token that belongs to it.
                now = _session_binding(scope)
                current = token if now == binding else self._bound_token(now)
                if current != cookie:
                    morsel = http.cookies.SimpleCookie()
                    morsel[self.cookie_name] = current
                    morsel[self.cookie_name]["path"] = self.cookie_path
                    morsel[self.cookie_name]["secure"] = self.cookie_secure
                    morsel[self.cookie_name]["samesite"] = self.cookie_samesite
                    MutableHeaders(scope=message).append("set-cookie", morsel.output(header="").strip())
            await send(message)

        return send_with_cookie

    async def _submitted_token(self, scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
        """The header's token, else the form field's; `receive` is replaced so the app reads the body again."""
        headers = Headers(scope=scope)
        if headers.get(self.header_name):
            return headers[self.header_name], receive
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in FORM_TYPES:
            return None, receive
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_form_bytes:
            raise _FormTooLarge

        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if sum(len(m.get("body", b"")) for m in messages) > self.max_form_bytes:
                raise _FormTooLarge
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        if content_type == FORM_TYPES[0]:
            values = parse_qs(body.decode("latin-1")).get(FORM_FIELD)
            return (values[0] if values else None), replay

        async def once() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            async with Request(scope, once).form() as form:
                value = form.get(FORM_FIELD)
        except (HTTPException, MultiPartException):
            # A body that is not a valid form carries no token; the refusal says so, not a 500.
            return None, replay
        return (value if isinstance(value, str) else None), replay


def csrf_token(request: Request) -> str:
    """This request's CSRF token, for `hx-headers` on <body> and for hidden form fields."""
    return request.scope.get("state", {}).get("csrf_token", "")


def csrf_field(request: Request) -> Markup:
    """The hidden input a plain HTML form carries so it works without JavaScript."""
    return Markup(f'<input type="hidden" name="{FORM_FIELD}" value="{escape(csrf_token(request))}">')
