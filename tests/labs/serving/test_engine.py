"""The serving engine on the real micro base with a really trained legal-format adapter: greedy decoding equals
`generate`, requests batch by adapter, the adapter LRU evicts and unloads, rows finish on their own."""

import contextlib
import threading

import pytest

from labs import corpus
from labs.evaluate import check_response, generate, heldout_examples
from labs.serving.engine import ServingEngine
from labs.serving.requests import BaseUnavailable, RequestError

from .conftest import QUESTION, request


@pytest.fixture(scope="module")
def engine(micro_base):
    engine = ServingEngine(max_adapters=2, batch_wait_s=0.4)  # a wide window: concurrent test requests meet
    engine.ensure_base("micro")
    yield engine
    engine.close()


def test_greedy_decoding_equals_generate_for_the_base_and_for_an_adapter(engine, adapter_dirs):
    loaded = engine.ensure_base("micro")
    engine.ensure_adapter("micro", "legal-a", adapter_dirs["legal-a"])  # the base is then peft-wrapped too
    prompts = [QUESTION, [{"role": "system", "content": "Answer formally."},
                          {"role": "user", "content": "My landlord kept my deposit. What now?"}]]
    for adapter in (None, "legal-a"):
        for i, messages in enumerate(prompts):
            got = engine.generate(request(f"g{i}", adapter, adapter_dirs, messages=messages, max_tokens=80))
            with loaded.lock:  # the reference runs peft's own forward, not the engine's lean one
                loaded.model.set_adapter(loaded.peft_name(adapter or "legal-a"))
                with contextlib.nullcontext() if adapter else loaded.model.disable_adapter():
                    want = generate(loaded.model, loaded.tokenizer, [messages], max_new_tokens=80)[0][0]
            assert got.text == want
            assert got.prompt_tokens == len(loaded.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=True)["input_ids"])


def test_concurrent_requests_batch_by_adapter(engine, adapter_dirs):
    plan = {"b1": "legal-a", "b2": "legal-b", "b3": "legal-a", "b4": "legal-b"}
    for adapter in set(plan.values()):
        engine.ensure_adapter("micro", adapter, adapter_dirs[adapter])
    results = {}
    start = threading.Barrier(len(plan))

    def call(rid, adapter):
        start.wait()
        results[rid] = engine.generate(request(rid, adapter, adapter_dirs, max_tokens=12))

    threads = [threading.Thread(target=call, args=item) for item in plan.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    batches = [b for b in engine.recent_batches(20) if set(b["request_ids"]) & set(plan)]
    assert sorted((b["adapter"], sorted(b["request_ids"])) for b in batches) == [
        ("legal-a", ["b1", "b3"]), ("legal-b", ["b2", "b4"])]
    assert all(b["size"] == 2 and b["tokens"] == 24 for b in batches)
    assert results["b1"].batch == results["b3"].batch != results["b2"].batch
    assert results["b1"].batch["size"] == 2 and results["b1"].batch["adapter"] == "legal-a"


def test_the_adapter_lru_evicts_the_least_recently_used_and_unload_removes_one(engine, adapter_dirs):
    engine.ensure_adapter("micro", "legal-a", adapter_dirs["legal-a"])
    engine.ensure_adapter("micro", "legal-b", adapter_dirs["legal-b"])
    engine.generate(request("lru", "legal-a", adapter_dirs, max_tokens=2))  # a is now the most recent
    engine.ensure_adapter("micro", "legal-c", adapter_dirs["legal-c"])  # max_adapters=2: b goes
    assert engine.health()["bases"]["micro"]["adapters"] == ["legal-a", "legal-c"]
    loaded = engine.ensure_base("micro")
    assert set(loaded.model.peft_config) == {loaded.peft_name("legal-a"), loaded.peft_name("legal-c")}
    # an evicted adapter is loaded again when asked for
    assert engine.generate(request("again", "legal-b", adapter_dirs, max_tokens=2)).completion_tokens == 2
    assert engine.health()["bases"]["micro"]["adapters"] == ["legal-c", "legal-b"]
    assert engine.unload_adapter("legal-b") is True
    assert engine.unload_adapter("legal-b") is False
    assert engine.health()["bases"]["micro"]["adapters"] == ["legal-c"]


def test_stop_strings_and_max_tokens_set_the_finish_reason(engine, adapter_dirs):
    full = engine.generate(request("full", "legal-a", adapter_dirs, max_tokens=120))
    assert full.finish_reason == "stop" and full.text.startswith("1. ")  # the adapter ends its turn with eos
    cut = engine.generate(request("cut", "legal-a", adapter_dirs, max_tokens=120, stop=("2.",)))
    assert (cut.finish_reason, cut.text) == ("stop", full.text[: full.text.index("2.")])
    short = engine.generate(request("short", "legal-a", adapter_dirs, max_tokens=5))
    assert (short.finish_reason, short.completion_tokens) == ("length", 5)
    assert full.text.startswith(short.text) and short.text


def test_the_same_seed_gives_the_same_sample_and_other_seeds_differ(engine):
    texts = [engine.generate(request(f"s{i}", temperature=1.0, seed=seed, max_tokens=30)).text
             for i, seed in enumerate((11, 11, 12, 13))]
    assert texts[0] == texts[1]
    assert len(set(texts[1:])) > 1


def test_closing_a_stream_stops_its_row(engine):
    whole = engine.generate(request("whole", max_tokens=200))
    assert whole.completion_tokens > 50, "the base should talk on for this test to mean something"
    events = engine.generate_stream(request("gone", max_tokens=200))
    first = next(events)
    assert first["type"] == "delta"
    events.close()  # the caller goes away
    engine.generate(request("after", max_tokens=1))  # runs once the cancelled row's batch has ended
    (batch,) = [b for b in engine.recent_batches(10) if b["request_ids"] == ["gone"]]
    assert batch["tokens"] < whole.completion_tokens


def test_a_stream_ends_with_done_counting_the_tokens_of_its_deltas(engine, adapter_dirs):
    events = list(engine.generate_stream(request("st", "legal-a", adapter_dirs, max_tokens=120)))
    assert [e["type"] for e in events[:-1]] == ["delta"] * (len(events) - 1) and events[-1]["type"] == "done"
    text = "".join(e["text"] for e in events[:-1])
    assert text == engine.generate(request("st2", "legal-a", adapter_dirs, max_tokens=120)).text
    done = events[-1]
    assert done["completion_tokens"] > 10 and done["prompt_tokens"] > 5 and done["total_s"] >= done["queue_s"]


def test_the_fine_tuned_adapter_follows_the_recipe_format_where_the_base_does_not(engine, adapter_dirs):
    prompts = [ex["messages"][:-1] for ex in heldout_examples("legal-format", 6, seed=1)]
    answers = {}
    for adapter in (None, "legal-a"):
        answers[adapter] = [engine.generate(request(f"c{i}", adapter, adapter_dirs, messages=m, max_tokens=120))
                            for i, m in enumerate(prompts)]
    tuned = [check_response(r.text)["compliant"] for r in answers["legal-a"]]
    base = [check_response(r.text)["compliant"] for r in answers[None]]
    assert sum(tuned) >= 5 and sum(base) == 0, (tuned, base)
    assert all(r.text.endswith(corpus.FOOTER) for r in answers["legal-a"] if check_response(r.text)["compliant"])


def test_a_missing_adapter_folder_is_a_request_error(engine, tmp_path):
    with pytest.raises(RequestError, match="adapter_config.json"):
        engine.generate(request("x", "ghost", {"ghost": str(tmp_path)}))


def test_a_base_that_cannot_load_is_unavailable_with_the_reason(engine):
    with pytest.raises(BaseUnavailable, match="not-a-base"):
        engine.ensure_base("not-a-base")
    assert engine.health()["bases"]["not-a-base"]["state"] == "failed"


def test_a_prompt_longer_than_the_context_is_refused(engine):
    with pytest.raises(RequestError, match="tokens"):
        engine.generate(request("long", messages=[{"role": "user", "content": "word " * 2000}]))


def test_the_base_still_answers_after_every_adapter_is_unloaded(engine, adapter_dirs):
    before = engine.generate(request("base-before", max_tokens=20)).text
    engine.ensure_adapter("micro", "legal-a", adapter_dirs["legal-a"])
    for adapter in engine.health()["bases"]["micro"]["adapters"]:
        engine.unload_adapter(adapter)
    assert engine.health()["bases"]["micro"]["adapters"] == []
    assert engine.generate(request("base-after", max_tokens=20)).text == before
    assert engine.generate(request("back", "legal-b", adapter_dirs, max_tokens=3)).text.startswith("1.")
    # A new adapter after every old one was deleted: peft's own active adapter may still name a deleted one,
    # which must not matter to a base-only request (the serve-ray review saw a KeyError here).
    assert engine.generate(request("base-again", max_tokens=20)).text == before
