"""From chat examples to training tensors, shared by both engines (our loop in labs.train and TRL's in
labs.train_trl): tokenising with answer-only labels, padding into batches, and the validation loss on held-out
answers. Not the place for the loop itself or for generation (labs.evaluate).
"""

from __future__ import annotations

import random

from labs import LabError


def encode(tokenizer, messages: list[dict], max_len: int) -> dict:
    """Token ids and labels for one conversation; labels are -100 except on assistant turns (content + end token).

    Each assistant turn's span is found in characters by rendering the conversation up to that turn, so any
    prefix-stable chat template works (ours, SmolLM2's ChatML), with or without {% generation %} markers.
    """
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        head = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not full.startswith(head) or not full.startswith(upto):
            raise LabError("the base's chat template is not prefix-stable, so answer tokens cannot be located")
        spans.append((len(head), len(upto.rstrip("\n"))))  # answer and end token, not the newline after
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True, truncation=True,
                    max_length=max_len)
    labels = [tok if any(a <= s and e <= b and e > s for a, b in spans) else -100
              for tok, (s, e) in zip(enc["input_ids"], enc["offset_mapping"])]
    return {"input_ids": enc["input_ids"], "labels": labels}


def collate(rows: list[dict], pad_id: int, device: str) -> dict:
    """Right-pad a list of encoded rows into (B, T) tensors; padding is masked and never learned."""
    import torch

    T = max(len(r["input_ids"]) for r in rows)
    ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), T), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        labels[i, :n] = torch.tensor(r["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids.to(device), "labels": labels.to(device), "attention_mask": mask.to(device)}


def batches(rows: list[dict], batch_size: int, seed: int):
    """Endless shuffled batches, a fresh permutation every epoch (smaller batches for a tiny dataset)."""
    rng = random.Random(seed)
    batch_size = min(batch_size, len(rows))
    while True:
        order = list(range(len(rows)))
        rng.shuffle(order)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            yield [rows[j] for j in order[i: i + batch_size]]


def heldout_rows(cfg, tokenizer) -> list[dict]:
    """The task's held-out examples, encoded like the training rows: the validation loss is measured on them."""
    from labs.evaluate import heldout_examples

    return [encode(tokenizer, ex["messages"], cfg.max_seq_len)
            for ex in heldout_examples(cfg.task, cfg.eval.heldout, cfg.seed)]


def validation_loss(model, rows: list[dict], pad_id: int, device: str, batch_size: int = 25) -> float:
    """Mean loss per answer token on held-out reference answers (no gradients).

    Only the answer positions go through the LM head (labs.answer_loss): on SmolLM2, whose 49k-token head
    is a fifth of a token's work, that is 0.85x the CPU time of building the full (batch, length, vocabulary)
    logits (benchmarks/labs/smollm2_eval_ab.md)."""
    import torch

    from labs.answer_loss import answer_loss

    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            batch = collate(rows[i: i + batch_size], pad_id, device)
            n = int((batch["labels"][:, 1:] != -100).sum())  # the model shifts labels by one
            total += answer_loss(model, batch).item() * n
            count += n
    if was_training:
        model.train()
    return total / max(1, count)
