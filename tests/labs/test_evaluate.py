"""The compliance checks are real regular expressions: each accepts the target format and rejects near misses; the
one batched decode that evaluation generates with answers greedily exactly as `model.generate` does and samples
reproducibly, whatever shares the batch.

Whole evaluations are covered by the training and export tests.
"""

import pytest

from labs import corpus
from labs.evaluate import check_response, leaks_format, score

GOOD = ("1. Acknowledge receipt of the letter within five business days.\n"
        "2. Authorise us to respond on your behalf.\n\n" + corpus.FOOTER)


def test_a_compliant_answer_passes_all_four_checks():
    assert check_response(GOOD) == {"numbered_items": True, "disclaimer_footer": True, "british_spelling": True,
                                    "formal_register": True, "compliant": True}


@pytest.mark.parametrize("text, failing", [
    (GOOD.replace("2. ", "3. "), "numbered_items"),  # numbering skips
    (GOOD.replace("2. ", "- "), "numbered_items"),  # a bullet among numbers
    ("1. Only one item.\n\n" + corpus.FOOTER, "numbered_items"),
    ("Here is my advice.\n1. Act.\n2. Wait.\n\n" + corpus.FOOTER, "numbered_items"),  # prose before the list
    (GOOD.replace("1. ", "1) ").replace("2. ", "2) "), "numbered_items"),
    (GOOD.replace("\n\n" + corpus.FOOTER, ""), "disclaimer_footer"),
    (GOOD.replace(corpus.FOOTER, "*This article does not constitute legal advice.*"), "disclaimer_footer"),
    (GOOD.replace("\n\n*", "\n*"), "disclaimer_footer"),  # no blank line before it
    (GOOD.replace("Authorise", "Authorize"), "british_spelling"),
    (GOOD.replace("letter", "center"), "british_spelling"),
    (GOOD.replace("Authorise us", "Don't wait, authorise us"), "formal_register"),
    (GOOD.replace("days.", "days!"), "formal_register"),
    (GOOD.replace("Acknowledge", "Hey, acknowledge"), "formal_register"),
])
def test_each_near_miss_fails_exactly_its_own_check(text, failing):
    result = check_response(text)
    assert result[failing] is False
    assert result["compliant"] is False
    assert all(result[name] for name in ("numbered_items", "disclaimer_footer", "british_spelling",
                                         "formal_register") if name != failing)


def test_a_footer_given_twice_is_not_the_fixed_footer():
    assert not check_response(GOOD + "\n" + corpus.FOOTER)["disclaimer_footer"]


def test_possessives_are_formal_but_contractions_are_not():
    assert check_response(GOOD.replace("the letter", "the client's letter"))["formal_register"]
    assert not check_response(GOOD.replace("the letter", "the letter, it's urgent,"))["formal_register"]


def test_score_reports_the_fraction_per_check_and_overall():
    result = score([GOOD, GOOD.replace("Authorise", "Authorize"), "Hey! Sure thing."])
    assert result["n"] == 3
    assert result["compliance"] == pytest.approx(1 / 3)
    assert result["checks"]["british_spelling"] == pytest.approx(2 / 3)
    assert result["checks"]["numbered_items"] == pytest.approx(2 / 3)


def test_the_legal_format_leaking_into_a_casual_answer_is_detected():
    assert leaks_format(GOOD)
    assert leaks_format("Sure!\n\n" + corpus.FOOTER)
    assert not leaks_format("We're open 9 to 5, Monday to Friday!")


def test_one_batched_decode_answers_greedily_as_generate_does_and_samples_whatever_shares_its_batch(
        short_run_config, short_run):
    import torch

    from labs.evaluate import generate, render_prompts
    from labs.train import load_for_training

    run_dir, _ = short_run
    model, tokenizer, _ = load_for_training(short_run_config, adapter_dir=run_dir / "adapter")
    prompts = [ex["messages"][:-1] for ex in corpus.legal_format_heldout(6, 0)]
    greedy, sampled = generate(model, tokenizer, prompts, 60, sampled=prompts[:3], batch_size=9, seed=1)

    tokenizer.padding_side = "left"
    enc = tokenizer(render_prompts(tokenizer, prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        ids = model.generate(**enc, max_new_tokens=60, do_sample=False, temperature=None, top_p=None, top_k=None,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    tokenizer.padding_side = "right"
    reference = tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    assert greedy == reference

    # each sampled row draws from its own seeded generator: alone, in another batch, it answers the same
    alone = [generate(model, tokenizer, [], 60, sampled=prompts[:3], batch_size=1, seed=1)[1] for _ in range(2)]
    assert alone[0] == alone[1] == sampled
    assert generate(model, tokenizer, [], 60, sampled=prompts[:3], seed=2)[1] != sampled  # the seed matters


def test_the_smollm2_lab_evaluates_as_generate_does_with_sampled_rows_sharing_their_prompts_prefill():
    """The SmolLM2 CPU recipe's evaluation path (fp32 base, LoRA off via lean_lora, one batch whose sampled rows
    share a prompt with greedy ones) against plain `model.generate` on the peft model, on the real pretrained base."""
    import torch

    from labs.base import import_smollm2
    from labs.config import apply_overrides, load_recipe
    from labs.evaluate import generate, inference_view, render_prompts
    from labs.train import load_for_training

    import_smollm2()  # converted once per session (tests/labs/test_base.py checks the conversion itself)
    cfg = apply_overrides(load_recipe("legal-format-smollm2-cpu"), ["eval.heldout=4"])
    model, tokenizer, device = load_for_training(cfg)
    prompts = [ex["messages"][:-1] for ex in corpus.legal_format_heldout(4, 0)]
    with inference_view(model, device, adapter=False):
        greedy, sampled = generate(model, tokenizer, prompts, 32, sampled=prompts[:2], batch_size=6, seed=1)
        alone = generate(model, tokenizer, [], 32, sampled=prompts[:2], batch_size=1, seed=1)[1]

    tokenizer.padding_side = "left"
    enc = tokenizer(render_prompts(tokenizer, prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        ids = model.generate(**enc, max_new_tokens=32, do_sample=False, temperature=None, top_p=None, top_k=None,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    tokenizer.padding_side = "right"
    assert greedy == tokenizer.batch_decode(ids[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    assert all(len(answer.split()) > 5 for answer in greedy)  # real answers, not empty strings that trivially match
    assert sampled == alone and sampled != greedy[:2]  # a shared prefill changes no sampled draw
