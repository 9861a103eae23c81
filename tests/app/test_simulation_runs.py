"""The simulation run cache: defaults kept for good, other states kept from their second request and evicted
least-recent first, one simulation per state however many requests miss on it at once, a failure reaching every
waiter, and the memory it holds bounded in bytes."""

import asyncio
import gc
import json
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import pytest

import simulations
from app.simulation_runs import RunCache, api_body_async

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


def kept(cache: RunCache, name: str, params):
    """Ask for a state twice, as a learner returning to it: from the second request on it is kept."""
    cache.compute(name, params)
    return cache.compute(name, params)


def test_defaults_survive_any_number_of_other_states_and_the_least_recent_goes_first(counted):
    one_state = RunCache().compute(NAME, state(999)).footprint
    cache = RunCache(max_bytes=int(2.5 * one_state))  # room for two states like it
    cache.compute(NAME, DEFAULT)
    kept(cache, NAME, state(1001))
    kept(cache, NAME, state(1002))
    cache.get(NAME, state(1001))  # now the most recent
    kept(cache, NAME, state(1003))  # evicts 1002, the least recently used
    assert cache.get(NAME, state(1002)) is None
    assert cache.get(NAME, state(1001)) is not None and cache.get(NAME, state(1003)) is not None
    for n in range(2000, 2010):
        kept(cache, NAME, state(n))
    assert cache.get(NAME, DEFAULT) is not None
    assert counted[DEFAULT] == 1


def test_a_state_asked_for_once_is_served_but_not_kept_and_pushes_nothing_out(counted):
    cache = RunCache()
    cache.compute(NAME, DEFAULT)  # a default is kept at once
    assert cache.get(NAME, DEFAULT) is not None
    popular = kept(cache, NAME, state(5001))
    for n in range(6000, 6300):  # random slider values: each new, each asked for once
        assert cache.compute(NAME, state(n)).result.break_even_requests > 0
    assert cache.get(NAME, state(5001)) is popular
    assert len(cache._recent) <= 1 + 300 * 0.05  # the popular state and the filter's rare false positives
    assert cache.compute(NAME, state(5001)) is popular and counted[state(5001)] == 2  # its third request: a hit


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


def test_the_api_body_is_made_only_when_the_api_asks_for_it_and_its_room_is_counted_ahead():
    # A slider move needs only the figure; for every simulation the room counted ahead covers the real body.
    for name, module in simulations.REGISTRY.items():
        run = RunCache().compute(name, module.Params())
        assert "api_body" not in run.__dict__
        body = asyncio.run(api_body_async(run))
        assert body is run.api_body and json.loads(body)["params"] == json.loads(json.dumps(run.as_json()))["params"]
        assert len(body) <= run.footprint - len(run.figure_json), name


def test_the_cache_holds_at_most_its_bytes_of_runs_however_many_slider_states_pass():
    # lora-rank's runs are the largest (its figure draws two heatmaps); its 60 other ranks at ~110 kB a run
    # would hold ~6.5 MB if kept, against the 1.5 MB allowed here. Only the rank moves, so the simulation's
    # own cache of decompositions (keyed on the other sliders) holds one entry, made before the count.
    budget = 1_500_000
    lora_rank = simulations.REGISTRY["lora-rank"]
    cache = RunCache(max_bytes=budget)
    cache.compute("lora-rank", lora_rank.Params(r=1))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for r in range(2, lora_rank.MAX_RANK + 1):
            kept(cache, "lora-rank", lora_rank.Params(r=r))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.bytes <= budget
    assert cache.bytes == sum(run.footprint for run in cache._recent.values())
    assert held < 1.3 * budget, f"the cache holds {held / 1e6:.1f} MB for a {budget / 1e6:.1f} MB budget"
