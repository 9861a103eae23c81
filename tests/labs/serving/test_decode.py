"""Row bookkeeping and token choice of the batched decode, with the micro base's real byte-level tokenizer:
multi-byte characters stream whole, stop strings are cut and never leak, sampling is per row and seeded."""

import pytest
import torch

from labs.serving.decode import Row, choose_tokens


@pytest.fixture(scope="module")
def tokenizer(micro_base):
    from labs.train import load_tokenizer

    return load_tokenizer(str(micro_base), "micro")


def feed(row: Row, ids: list[int], tokenizer) -> list[str]:
    deltas = []
    row.on_delta = deltas.append
    for t in ids:
        if row.advance(t, tokenizer, eos_ids={tokenizer.eos_token_id}):
            break
    return deltas


def test_multi_byte_characters_stream_whole_even_when_split_over_tokens(tokenizer):
    text = "Café ✓ 東京 done"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    # the case under test really happens: some prefix of the tokens ends inside a character
    assert any(tokenizer.decode(ids[:k]).endswith("\ufffd") for k in range(1, len(ids)))
    deltas = feed(Row([1], max_tokens=100), ids, tokenizer)
    assert "".join(deltas) == text
    assert not any("\ufffd" in d for d in deltas)


def test_a_stop_string_ends_the_row_and_none_of_it_is_ever_sent(tokenizer):
    ids = tokenizer("Dear client,\n1. Act now.\nEND of answer", add_special_tokens=False)["input_ids"]
    row = Row([1], max_tokens=100, stop=("END", "zzz"))
    finished = []
    row.on_finish = finished.append
    deltas = feed(row, ids, tokenizer)
    assert "".join(deltas) == "Dear client,\n1. Act now.\n"
    assert finished == ["stop"] and row.text == "Dear client,\n1. Act now.\n"
    assert not any("E" in d for d in deltas)


def test_text_that_only_looks_like_the_start_of_a_stop_string_is_sent_in_the_end(tokenizer):
    ids = tokenizer("one two th", add_special_tokens=False)["input_ids"]
    row = Row([1], max_tokens=len(ids), stop=("three",))
    deltas = feed(row, ids, tokenizer)
    assert "".join(deltas) == "one two th" and row.finish_reason == "length"


def test_max_tokens_ends_the_row_with_length_and_eos_with_stop(tokenizer):
    ids = tokenizer("a b c d e f g h", add_special_tokens=False)["input_ids"]
    row = Row([1], max_tokens=3)
    feed(row, ids, tokenizer)
    assert (len(row.tokens), row.finish_reason) == (3, "length")
    row = Row([1], max_tokens=50)
    feed(row, ids[:2] + [tokenizer.eos_token_id] + ids, tokenizer)
    assert (len(row.tokens), row.finish_reason) == (3, "stop")
    assert "<|end|>" not in row.text


def test_temperature_zero_is_the_argmax_and_a_tiny_top_p_samples_the_argmax_too():
    logits = torch.randn(3, 50, generator=torch.Generator().manual_seed(0))
    rows = [Row([1], 5, temperature=0.0), Row([1], 5, temperature=1.5, top_p=1e-6, seed=1), Row([1], 5, 0.0)]
    assert choose_tokens(logits, rows) == logits.argmax(-1).tolist()


def test_a_seeded_row_draws_the_same_tokens_whatever_shares_its_batch():
    logits = torch.randn(1, 50, generator=torch.Generator().manual_seed(1)).repeat(3, 1)
    alone = [choose_tokens(logits[:1], [Row([1], 5, seed=42)])[0] for _ in range(1)]
    row, other = Row([1], 5, seed=42), Row([1], 5, temperature=0.9, seed=7)
    together = [choose_tokens(logits[:2], [other, row])[1]]
    assert together == alone
    draws = {tuple(choose_tokens(logits, [Row([1], 5, seed=s) for s in (1, 1, 2)])) for _ in range(3)}
    assert len(draws) == 1  # same seeds, same draws


def test_sampling_follows_the_distribution_and_top_p_cuts_the_tail():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    row = Row([1], 5, temperature=1.0, top_p=0.7, seed=0)
    picks = [choose_tokens(probs.log(), [row])[0] for _ in range(2000)]
    assert set(picks) == {0, 1}  # 0.5 + 0.3 reach 0.7: tokens 2 and 3 are cut
    assert 0.55 < picks.count(0) / len(picks) < 0.70  # 0.5 / 0.8 = 0.625



@pytest.mark.parametrize("scales, temperature, top_p", [
    ((4, 3, 2.5), 0.7, 0.95), ((4, 3, 2.5), 1.0, 0.5),  # peaked: the top k hold each row's nucleus (2-78 tokens)
    ((4, 1, 0.1), 0.7, 0.95), ((4, 3, 2.5), 0.7, 1.0)])  # a flat row, or top_p 1: the whole vocabulary is sorted
def test_nucleus_sampling_among_the_top_k_draws_what_sorting_the_whole_vocabulary_draws(monkeypatch, scales,
                                                                                        temperature, top_p):
    from labs.serving import decode

    logits = torch.randn(len(scales), 5000, generator=torch.Generator().manual_seed(3)) * torch.tensor(scales)[:, None]
    top_k_mass = torch.softmax(logits / temperature, -1).topk(decode.NUCLEUS_K).values.sum(-1)
    assert (top_k_mass.min() >= top_p) == (scales[1] > 1 and top_p < 1)  # each case takes the path it names
    rows = lambda: [Row([1], 5, temperature=temperature, top_p=top_p, seed=s) for s in range(len(scales))]  # noqa
    fast, slow = rows(), rows()
    picks = [decode.choose_tokens(logits, fast) for _ in range(30)]
    monkeypatch.setattr(decode, "NUCLEUS_K", logits.shape[1])  # always sort the whole vocabulary
    assert picks == [decode.choose_tokens(logits, slow) for _ in range(30)]
    assert len({tuple(p) for p in picks}) > 1  # the rows really sample
