"""The anonymous learner: a random id in a signed cookie, so progress survives without an account.

`LearnerCookieMiddleware` reads the cookie; a handler that asks for `LearnerId` gets the id, and only
then, for a browser without a valid cookie, is a new id minted and its cookie set on whatever
response the handler returns (pages, redirects and JSON alike). Static files never mint one.
Logging in or out may switch the browser to another learner (see app.identity).
"""

import uuid
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "learner"
COOKIE_MAX_AGE_S = 400 * 24 * 3600  # the longest lifetime browsers accept (400 days)
VERIFIED_COOKIES = 16_384
# A cookie this module signs is ~80 characters; only such values are remembered, so the cache holds at most
# ~16,384 × 0.3 kB = 5 MB, however long the garbage cookies a client sends (a header can carry 8 kB each).
CACHED_COOKIE_CHARS = 128


class LearnerHolder:
    """Per-request: the learner id from the cookie, or a new one minted on first use."""

    def __init__(self, existing: str | None):
        self._id = existing
        self.minted = False

    def get(self) -> str:
        if self._id is None:
            self._id = str(uuid.uuid4())
            self.minted = True
        return self._id

    def switch(self, learner_id: str | None = None) -> str:
        """Point this browser at another learner (on login or logout); its cookie is set on the response."""
        self._id = learner_id or str(uuid.uuid4())
        self.minted = True
        return self._id


class LearnerCookieMiddleware:
    def __init__(self, app: ASGIApp, secret_key: str, secure: bool, cookie_name: str = COOKIE_NAME):
        self.app = app
        self.serializer = URLSafeSerializer(secret_key, salt="learner-cookie")
        self.secure = secure
        self.cookie_name = cookie_name
        # A cookie's signature is checked once, not on every request of the browser (bounded, oldest out).
        self._verified = lru_cache(maxsize=VERIFIED_COOKIES)(self._verify)

    def _read(self, scope: Scope) -> str | None:
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                # Starlette's lenient parser: a malformed Cookie header is the browser's problem, not a 500.
                signed = cookie_parser(value.decode("latin-1")).get(self.cookie_name)
                if signed:
                    return self._verified(signed) if len(signed) <= CACHED_COOKIE_CHARS else self._verify(signed)
        return None

    def _verify(self, signed: str) -> str | None:
        try:
            return str(uuid.UUID(self.serializer.loads(signed)))
        except (BadSignature, ValueError, TypeError):
            return None

    def _set_cookie_header(self, learner: str) -> bytes:
        parts = [
            f"{self.cookie_name}={self.serializer.dumps(learner)}",
            "Path=/",
            f"Max-Age={COOKIE_MAX_AGE_S}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts).encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder = LearnerHolder(self._read(scope))
        scope.setdefault("state", {})["learner"] = holder

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and holder.minted:
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", self._set_cookie_header(holder.get())))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def learner_id(request: Request) -> str:
    """This browser's learner id (minted, with its cookie, on first use)."""
    return request.state.learner.get()


LearnerId = Annotated[str, Depends(learner_id)]
