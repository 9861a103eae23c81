"""Per-key limits of /v1: tokens per minute and requests in flight, counted in the app's rate-limit store
(app.rate_limits), so several workers share the counts wherever that store is Redis.

Tokens are counted up front, as OpenAI does: the prompt (estimated at 4 characters a token) plus the
max_tokens asked for, so a request is refused before it costs any compute. Calls may block on the network
(Redis): run them in the thread pool.
"""

import math
import time

from limits import RateLimitItemPerMinute
from slowapi import Limiter

from app.serving.openai_schema import OpenAIError

CHARS_PER_TOKEN = 4
IN_FLIGHT_EXPIRY_S = 600  # a count left behind by a killed worker heals itself after this long


def estimated_cost(messages: list[dict], max_tokens: int) -> int:
    prompt_chars = sum(len(message["content"]) for message in messages)
    return math.ceil(prompt_chars / CHARS_PER_TOKEN) + max_tokens


def _in_flight_key(key_id: int) -> str:
    return f"course/serving-in-flight/{key_id}"


def admit(limiter: Limiter, key_id: int, cost: int, tokens_per_minute: int, concurrent: int) -> None:
    """Take one in-flight slot and `cost` tokens of this minute for the key, or raise a 429 (400 for a
    request that alone exceeds the minute's budget, which no waiting would let through)."""
    if cost > tokens_per_minute:
        raise OpenAIError(400, f"This request may use up to {cost} tokens (prompt plus max_tokens), more than the "
                               f"{tokens_per_minute} a key may use per minute (serving_tokens_per_minute); lower "
                               "max_tokens or shorten the messages.", param="max_tokens", code="invalid_value")
    storage = limiter.limiter.storage
    in_flight = storage.incr(_in_flight_key(key_id), IN_FLIGHT_EXPIRY_S, 1)
    if in_flight > concurrent:
        storage.incr(_in_flight_key(key_id), IN_FLIGHT_EXPIRY_S, -1)
        raise OpenAIError(429, f"This key has {concurrent} requests in flight, the most allowed "
                               "(serving_concurrent_requests); wait for one to finish.",
                          code="rate_limit_exceeded", type="requests", headers={"Retry-After": "1"})
    item = RateLimitItemPerMinute(tokens_per_minute)
    if not limiter.limiter.hit(item, "course", "serving-tokens", str(key_id), cost=cost):
        storage.incr(_in_flight_key(key_id), IN_FLIGHT_EXPIRY_S, -1)
        reset_at, remaining = limiter.limiter.get_window_stats(item, "course", "serving-tokens", str(key_id))
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise OpenAIError(429, f"Rate limit reached for this key: {tokens_per_minute} tokens per minute "
                               f"(serving_tokens_per_minute); {remaining} left, this request needs {cost}. "
                               f"Try again in {retry_after} s.",
                          code="rate_limit_exceeded", type="tokens", headers={"Retry-After": str(retry_after)})


def release(limiter: Limiter, key_id: int) -> None:
    """Give back the in-flight slot `admit` took."""
    storage = limiter.limiter.storage
    if storage.incr(_in_flight_key(key_id), IN_FLIGHT_EXPIRY_S, -1) < 0:
        storage.incr(_in_flight_key(key_id), IN_FLIGHT_EXPIRY_S, 1)  # the count had expired meanwhile
