"""The slider fragment served from memory: byte for byte what a fresh render of a fresh simulation gives, in
every encoding a browser may ask for; never a learner's own measurement; bounded by its bytes."""

import gzip

import brotli
import pytest
import zstandard

import simulations
from app.simulation_fragments import FRAGMENTS, FragmentCache, render_fragment
from app.simulation_runs import RUNS, SimulationRun, parse_query
from simulations.params import params_schema

HX = {"HX-Request": "true"}
DECODE = {
    "zstd": lambda body: zstandard.ZstdDecompressor().decompressobj().decompress(body),
    "br": brotli.decompress,
    "gzip": gzip.decompress,
    None: lambda body: body,
}


def fresh_fragment(app, name: str, query: dict[str, str]) -> bytes:
    """The fragment rendered now from a run simulated now, bypassing every cache."""
    module = simulations.REGISTRY[name]
    params = parse_query(name, query)
    return render_fragment(app.state.templates, SimulationRun.of(module, params, module.simulate(params)))


@pytest.mark.parametrize("encoding", ["zstd", "br", "gzip", None])
@pytest.mark.parametrize("name", list(simulations.REGISTRY))
def test_a_cached_slider_fragment_is_exactly_a_fresh_render_in_every_encoding(app, client, name, encoding):
    properties = params_schema(simulations.REGISTRY[name].Params)["properties"]
    field, prop = next((f, p) for f, p in properties.items() if p.get("type") in ("integer", "number"))
    query = {field: str(prop["maximum"])}  # not the default: a state simulated for this request
    headers = HX | {"Accept-Encoding": encoding or "identity"}
    FRAGMENTS.clear()
    RUNS.clear()
    key = (name, parse_query(name, query), encoding)
    first = sent(client, name, query, headers)
    assert FRAGMENTS.get(key) is None  # asked for once: served, not kept
    second = sent(client, name, query, headers)
    assert FRAGMENTS.get(key) is not None  # asked for again: kept
    again = sent(client, name, query, headers)  # from memory now
    for status, response_headers, body in (first, second, again):
        assert status == 200
        assert response_headers.get("content-encoding") == encoding
        assert "Accept-Encoding" in response_headers["vary"]
        assert response_headers["content-type"] == "text/html; charset=utf-8"
        assert "content-security-policy" in response_headers  # the outer middleware still runs
        assert DECODE[encoding](body) == fresh_fragment(app, name, query)


def sent(client, name: str, query: dict[str, str], headers: dict[str, str]):
    """Status, headers and the body as it came over the wire (the client decodes what it can otherwise)."""
    with client.stream("GET", f"/simulations/{name}", params=query, headers=headers) as response:
        return response.status_code, response.headers, b"".join(response.iter_raw())


def test_the_fragment_for_one_encoding_is_never_sent_to_a_client_that_asked_for_another(client):
    query = {"training_cost_usd": "777"}
    _, zstd_headers, _ = sent(client, "break-even", query, HX | {"Accept-Encoding": "zstd"})
    _, plain_headers, plain = sent(client, "break-even", query, HX | {"Accept-Encoding": "identity"})
    assert zstd_headers["content-encoding"] == "zstd"
    assert "content-encoding" not in plain_headers and plain.startswith(b'<p class="sim-headline"')


def test_a_bad_value_from_a_slider_is_a_422_naming_the_field(client):
    response = client.get("/simulations/break-even", params={"training_cost_usd": "-5"}, headers=HX)
    assert response.status_code == 422 and "training_cost_usd" in response.text


def test_a_learners_own_measurement_is_rendered_for_them_and_never_kept(client):
    FRAGMENTS.clear()
    response = client.get("/simulations/loss-curve", params={"run": "latest"}, headers=HX)
    assert response.status_code == 200 and "no finished run yet" in response.text
    assert FRAGMENTS.bytes == 0


def test_the_cache_keeps_at_most_its_bytes_the_least_recent_going_first():
    cache = FragmentCache(max_bytes=1000)
    for n in range(10):
        for _ in range(2):  # made twice: kept from the second on
            cache.put(("x", n, "zstd"), (b"a" * 300, "zstd"))
        cache.get(("x", 0, "zstd"))  # kept warm: it stays
    assert cache.bytes <= 1000
    assert cache.get(("x", 0, "zstd")) is not None and cache.get(("x", 9, "zstd")) is not None
    assert cache.get(("x", 1, "zstd")) is None
    for _ in range(2):
        cache.put(("x", "huge", None), (b"b" * 1001, None))
    assert cache.get(("x", "huge", None)) is None and cache.bytes <= 1000


def test_a_state_made_once_is_not_kept_and_does_not_push_out_one_made_twice():
    cache = FragmentCache(max_bytes=1000)
    for _ in range(2):
        cache.put(("x", "popular", "zstd"), (b"p" * 300, "zstd"))
    for n in range(500):  # slider states passing by, each asked for once
        cache.put(("x", n, "zstd"), (b"a" * 300, "zstd"))
    assert cache.get(("x", "popular", "zstd")) is not None
    assert len(cache) <= 1 + 500 * 0.05  # at most the filter's few false positives besides it
