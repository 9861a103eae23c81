"""The simulation run cache: defaults kept for good, other states evicted least-recent first, one
simulation per state however many requests miss on it at once, and a failure reaching every waiter."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import simulations
from app.simulation_runs import RunCache

NAME = "break-even"
DEFAULT = simulations.REGISTRY[NAME].Params()


def state(requests_per_day: int):
    return simulations.REGISTRY[NAME].Params(requests_per_day=requests_per_day)


@pytest.fixture
def counted(monkeypatch):
    """RunCache._simulate, slowed down a little and counting its calls per state."""
    calls: dict = {}
    real = RunCache._simulate

    def slow_simulate(name, params):
        calls[params] = calls.get(params, 0) + 1
        time.sleep(0.05)  # long enough for every thread below to arrive while the first one works
        return real(name, params)

    monkeypatch.setattr(RunCache, "_simulate", staticmethod(slow_simulate))
    return calls


def test_many_concurrent_misses_on_one_state_simulate_it_once(counted):
    cache = RunCache()
    barrier = threading.Barrier(8)

    def ask(_):
        barrier.wait()
        return cache.compute(NAME, state(1234))

    with ThreadPoolExecutor(max_workers=8) as pool:
        runs = list(pool.map(ask, range(8)))
    assert counted == {state(1234): 1}
    assert all(run is runs[0] for run in runs)
    assert runs[0].result.break_even_requests > 0


def test_defaults_survive_any_number_of_other_states_and_the_least_recent_goes_first(counted):
    cache = RunCache(size=2)
    cache.compute(NAME, DEFAULT)
    cache.compute(NAME, state(1001))
    cache.compute(NAME, state(1002))
    cache.get(NAME, state(1001))  # now the most recent
    cache.compute(NAME, state(1003))  # evicts 1002, the least recently used
    assert cache.get(NAME, state(1002)) is None
    assert cache.get(NAME, state(1001)) is not None and cache.get(NAME, state(1003)) is not None
    for n in range(2000, 2010):
        cache.compute(NAME, state(n))
    assert cache.get(NAME, DEFAULT) is not None
    assert counted[DEFAULT] == 1


def test_a_failure_reaches_every_waiter_and_the_next_request_tries_again(monkeypatch):
    cache = RunCache()
    attempts = []

    def failing(name, params):
        attempts.append(params)
        time.sleep(0.05)
        raise FloatingPointError("model diverged")

    monkeypatch.setattr(RunCache, "_simulate", staticmethod(failing))
    barrier = threading.Barrier(4)

    def ask(_):
        barrier.wait()
        try:
            cache.compute(NAME, state(77))
        except FloatingPointError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(ask, range(4))) == ["model diverged"] * 4
    assert len(attempts) == 1
    monkeypatch.undo()
    assert cache.compute(NAME, state(77)).result.break_even_requests > 0


def test_the_cached_api_body_is_the_runs_json():
    run = RunCache().compute(NAME, DEFAULT)
    assert json.loads(run.api_body) == json.loads(json.dumps(run.as_json()))
    assert "</" not in run.figure_json
