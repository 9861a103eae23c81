"""The per-key limits of /v1 in the shared rate-limit store: two limiters on one Redis stand for two workers, and
each sees what the other counted (tokens this minute, requests in flight); in memory, one process counts alone."""

import pytest

from app.rate_limits import create_limiter
from app.serving.limits import admit, estimated_cost, release
from app.serving.openai_schema import OpenAIError
from app.settings import Settings
from tests.redis_server import TemporaryRedis


@pytest.fixture(scope="module")
def redis_url():
    with TemporaryRedis() as redis:
        yield redis.url


@pytest.fixture(params=["memory", "redis"])
def workers(request):
    """Two limiters sharing a store (with memory://, the same limiter twice: one process)."""
    if request.param == "memory":
        limiter = create_limiter(Settings())
        return limiter, limiter
    settings = Settings(rate_limit_storage=request.getfixturevalue("redis_url"))
    return create_limiter(settings), create_limiter(settings)


_keys = iter(range(1, 1_000_000))


def test_tokens_counted_by_one_worker_count_on_the_other(workers):
    first, second = workers
    key, other_key = next(_keys), next(_keys)
    admit(first, key, 60, tokens_per_minute=100, concurrent=4)
    release(first, key)
    with pytest.raises(OpenAIError) as caught:
        admit(second, key, 60, tokens_per_minute=100, concurrent=4)
    assert caught.value.status_code == 429 and caught.value.type == "tokens"
    assert 1 <= int(caught.value.headers["Retry-After"]) <= 60
    admit(second, other_key, 60, tokens_per_minute=100, concurrent=4)  # each key has its own budget


def test_requests_in_flight_are_shared_and_given_back(workers):
    first, second = workers
    key = next(_keys)
    admit(first, key, 1, tokens_per_minute=10_000, concurrent=2)
    admit(second, key, 1, tokens_per_minute=10_000, concurrent=2)
    with pytest.raises(OpenAIError) as caught:
        admit(first, key, 1, tokens_per_minute=10_000, concurrent=2)
    assert caught.value.status_code == 429 and caught.value.type == "requests"
    assert caught.value.headers["Retry-After"] == "1"
    release(second, key)
    admit(first, key, 1, tokens_per_minute=10_000, concurrent=2)


def test_a_refused_request_takes_no_slot_and_extra_releases_make_no_room(workers):
    first, second = workers
    key = next(_keys)
    admit(first, key, 90, tokens_per_minute=100, concurrent=1)
    release(first, key)
    for _ in range(3):
        with pytest.raises(OpenAIError):
            admit(second, key, 90, tokens_per_minute=100, concurrent=1)  # over the tokens: no slot kept
        release(second, key)  # a stray release must not open a second slot
    admit(first, key, 1, tokens_per_minute=1_000, concurrent=1)  # one slot, as before the stray releases
    with pytest.raises(OpenAIError) as caught:
        admit(second, key, 1, tokens_per_minute=1_000, concurrent=1)
    assert caught.value.type == "requests"


def test_a_request_that_alone_exceeds_the_minutes_budget_is_a_400_on_max_tokens(workers):
    with pytest.raises(OpenAIError) as caught:
        admit(workers[0], next(_keys), 101, tokens_per_minute=100, concurrent=4)
    assert caught.value.status_code == 400 and caught.value.param == "max_tokens"


def test_the_cost_is_the_prompt_at_four_characters_a_token_plus_max_tokens():
    assert estimated_cost([{"role": "user", "content": "x" * 9}, {"role": "system", "content": "abc"}], 50) == 53
