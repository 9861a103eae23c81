"""Rate limits, shared by every feature that needs one (login, registration, later lab launches).

One slowapi `Limiter` per app (`app.state.limiter`), so `@limiter.limit(...)` works on any route, and
`enforce()` for limits keyed by something only the handler knows (the email being tried). Both answer
429 with Retry-After through the app's one error handler.
"""

import math
import time

from fastapi import FastAPI, Request
from limits import parse
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address

from app.errors import AppError, error_response
from app.settings import Settings


def create_limiter(settings: Settings) -> Limiter:
    return Limiter(key_func=get_remote_address, storage_uri=settings.rate_limit_storage, key_prefix="course")


def install_rate_limits(app: FastAPI, settings: Settings) -> None:
    app.state.limiter = create_limiter(settings)

    @app.exception_handler(RateLimitExceeded)
    async def _decorator_limit_exceeded(request: Request, exc: RateLimitExceeded):
        return error_response(request, 429, f"Too many requests: {exc.detail}. Try again in a minute.")


def enforce(request: Request, scope: str, limit: str, key: str) -> None:
    """Count one attempt at `scope` by `key`; past `limit` (e.g. "5/minute") raise 429 with Retry-After."""
    limiter: Limiter = request.app.state.limiter
    item = parse(limit)
    if limiter.limiter.hit(item, "course", scope, key):
        return
    reset_at, _remaining = limiter.limiter.get_window_stats(item, "course", scope, key)
    retry_after = max(1, math.ceil(reset_at - time.time()))
    raise AppError(
        429,
        f"Too many attempts ({limit}). Wait {retry_after} seconds and try again.",
        headers={"Retry-After": str(retry_after)},
    )


def limit_auth_attempt(request: Request, scope: str, email: str) -> None:
    """Login and registration: limited per client address and per account (the email tried)."""
    settings: Settings = request.app.state.settings
    enforce(request, f"{scope}:ip", settings.auth_rate_limit_per_ip, get_remote_address(request))
    enforce(request, f"{scope}:account", settings.auth_rate_limit_per_account, email.strip().lower())
