"""Tokenising and batching shared by both engines: only answer tokens are learned, padding never is, a tiny
dataset still gives full epochs of shuffled batches, and the validation loss is the model's own loss per answer
token."""

import pytest


def test_only_the_answer_and_its_end_token_are_learned(micro_base):
    from transformers import AutoTokenizer

    from labs.batching import encode

    tok = AutoTokenizer.from_pretrained(micro_base)
    messages = [{"role": "system", "content": "Be formal."}, {"role": "user", "content": "Hello there"},
                {"role": "assistant", "content": "1. Greet.\n2. Wait."}, {"role": "user", "content": "And?"},
                {"role": "assistant", "content": "1. Leave."}]
    row = encode(tok, messages, max_len=256)
    learned = [t for t, label in zip(row["input_ids"], row["labels"]) if label != -100]
    assert tok.decode(learned) == "1. Greet.\n2. Wait.<|end|>1. Leave.<|end|>"
    assert all(label in (-100, t) for t, label in zip(row["input_ids"], row["labels"]))


def test_padding_is_masked_out_of_the_attention_and_the_labels():
    from labs.batching import collate

    rows = [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    batch = collate(rows, pad_id=0, device="cpu")  # (2, 3)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]


def test_batches_visit_every_example_once_per_epoch_and_shrink_for_a_tiny_dataset():
    from labs.batching import batches

    rows = [{"i": i} for i in range(10)]
    stream = batches(rows, batch_size=4, seed=1)
    epoch = [next(stream) for _ in range(2)]  # 10 // 4 = 2 full batches; the remainder waits for a new shuffle
    seen = [r["i"] for b in epoch for r in b]
    assert len(seen) == len(set(seen)) == 8
    assert [len(b) for b in (next(batches(rows[:3], batch_size=8, seed=0)),)] == [3]


def test_the_validation_loss_is_the_models_own_loss_over_the_answer_tokens(short_run_config, micro_base):
    """Only answer positions go through the LM head now; the figure is still `model(**batch).loss` per token."""
    import torch

    from labs.batching import collate, heldout_rows, validation_loss
    from labs.train import load_for_training

    model, tokenizer, device = load_for_training(short_run_config)
    with torch.no_grad():  # a live adapter, so the loss is not just the base's
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    rows = heldout_rows(short_run_config, tokenizer)[:7]
    total = count = 0
    with torch.no_grad():
        for i in range(0, len(rows), 3):
            batch = collate(rows[i: i + 3], tokenizer.pad_token_id, device)
            n = int((batch["labels"][:, 1:] != -100).sum())
            total, count = total + model(**batch).loss.item() * n, count + n
    assert validation_loss(model, rows, tokenizer.pad_token_id, device, batch_size=3) == pytest.approx(
        total / count, rel=1e-5)
