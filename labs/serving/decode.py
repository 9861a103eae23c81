"""One batched decode: left-padded prompts, a KV cache, per-row sampling settings, rows that finish on their own.

Greedy rows (temperature 0) take the argmax exactly as `model.generate(do_sample=False)` does, so one request's
answer is token for token what `generate` gives. Text is decoded incrementally and held back while it could still
become a stop string or an unfinished UTF-8 character. The model server decodes with it, and so does a lab run's
evaluation (labs.evaluate.generate). Not the place for scheduling or adapters (labs.serving.engine).
"""

from __future__ import annotations

import secrets
from typing import Callable

import torch
from transformers import DynamicCache


class Row:
    """One request's decoding state; `on_delta(text)` and `on_finish(reason)` are called from the decoding thread
    (`on_finish("cancelled")` too, for a row whose caller went away)."""

    def __init__(self, prompt_ids: list[int], max_tokens: int, temperature: float = 1.0, top_p: float = 1.0,
                 seed: int | None = None, stop: tuple[str, ...] = (), on_delta: Callable[[str], None] | None = None,
                 on_finish: Callable[[str], None] | None = None, cancelled: Callable[[], bool] | None = None):
        self.prompt_ids = prompt_ids
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.generator = torch.Generator().manual_seed(seed if seed is not None else secrets.randbits(63))
        self.stop = stop
        self.on_delta = on_delta or (lambda text: None)
        self.on_finish = on_finish or (lambda reason: None)
        self.cancelled = cancelled or (lambda: False)
        self.tokens: list[int] = []
        self.text = ""  # the answer so far (a stop string cut off)
        self.emitted = 0  # characters of `text` already passed to on_delta
        self.finish_reason: str | None = None

    def uniform(self) -> float:
        return torch.rand(1, generator=self.generator).item()

    def advance(self, token: int, tokenizer, eos_ids: set[int]) -> bool:
        """Take one new token; emit what is now certain; True when the row has finished."""
        self.tokens.append(token)
        if token in eos_ids:
            return self._finish("stop")
        # The whole answer is re-decoded: byte-level BPE splits a multi-byte character over tokens, so only
        # the full sequence decodes correctly (256 tokens decode in tens of microseconds).
        full = tokenizer.decode(self.tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        if not full.endswith("\ufffd"):  # an unfinished UTF-8 sequence: wait for its next byte
            self.text = full
            for s in self.stop:
                at = full.find(s, max(0, self.emitted - len(s)))
                if at >= 0:
                    self.text = full[:at]
                    return self._finish("stop")
        if len(self.tokens) >= self.max_tokens:
            return self._finish("length")
        safe = len(self.text) - self._held_back()
        if safe > self.emitted:
            self.on_delta(self.text[self.emitted:safe])
            self.emitted = safe
        return False

    def _held_back(self) -> int:
        """Characters at the end of `text` that begin some stop string: not sent until that is settled."""
        held = 0
        for s in self.stop:
            for k in range(min(len(s) - 1, len(self.text)), held, -1):
                if self.text.endswith(s[:k]):
                    held = k
                    break
        return held

    def _finish(self, reason: str) -> bool:
        if len(self.text) > self.emitted:
            self.on_delta(self.text[self.emitted:])
            self.emitted = len(self.text)
        self.finish_reason = reason
        self.on_finish(reason)
        return True


# Nucleus sampling looks for its tokens among the most probable NUCLEUS_K first: a 49k-token vocabulary sorted for
# every sampled row at every step was about a third of a SmolLM2 decode step's CPU time. A row whose top NUCLEUS_K do not
# reach top_p (a flat distribution) is sorted in full, so the kept set, its order and the draw are the same.
NUCLEUS_K = 256


def choose_tokens(logits: torch.Tensor, rows: list[Row]) -> list[int]:
    """Next token per row from float32 `logits` (B, vocab): argmax for temperature 0, else nucleus sampling with
    each row's temperature, top_p and own generator (a row's draws never depend on its neighbours)."""
    greedy = logits.argmax(-1)  # (B,)
    sampled_rows = [i for i, r in enumerate(rows) if r.temperature > 0]
    if not sampled_rows:
        return greedy.tolist()
    idx = torch.tensor(sampled_rows)
    temps = torch.tensor([rows[i].temperature for i in sampled_rows])[:, None]  # (S, 1)
    top_p = torch.tensor([rows[i].top_p for i in sampled_rows])[:, None]
    probs = torch.softmax(logits[idx] / temps, dim=-1)  # (S, vocab)
    sorted_p, order = probs.topk(min(NUCLEUS_K, probs.shape[1]), dim=-1)  # descending
    # A row whose top k hold less than top_p (a margin for rounding in the sums) keeps tokens ranked below them
    if (sorted_p.sum(-1, keepdim=True) < top_p + 1e-4).any():
        sorted_p, order = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(-1) - sorted_p  # mass of the tokens ranked above each one
    sorted_p = sorted_p.masked_fill(before >= top_p, 0.0)  # the smallest set whose mass reaches top_p
    cum = sorted_p.cumsum(-1)  # (S, k)
    u = torch.tensor([rows[i].uniform() for i in sampled_rows])[:, None] * cum[:, -1:]
    pick = (cum <= u).sum(-1, keepdim=True).clamp_max(cum.shape[1] - 1)  # inverse CDF
    chosen = order.gather(1, pick).squeeze(1)
    out = greedy.clone()
    out[idx] = chosen
    return out.tolist()


@torch.inference_mode()
def decode_batch(model, tokenizer, rows: list[Row], eos_ids: set[int], pad_id: int) -> int:
    """Decode `rows` together until each has finished or been cancelled; returns the tokens generated.

    Rows with the same prompt (an evaluation's greedy and sampled answers to one question) share its prefill: the
    prompt runs through the model once and its KV cache is copied to each of them."""
    device = next(model.parameters()).device
    unique: dict[tuple[int, ...], int] = {}
    of_row = [unique.setdefault(tuple(r.prompt_ids), len(unique)) for r in rows]  # each row's prompt, by index
    width = max(len(p) for p in unique)
    input_ids = torch.full((len(unique), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(unique), width), dtype=torch.long)
    for i, p in enumerate(unique):  # left padding: every prompt ends in the last column
        input_ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    input_ids, mask = input_ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)  # as generate() derives them
    cache = DynamicCache(config=model.config)
    out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True,
                logits_to_keep=1)
    logits = out.logits[:, -1, :]
    if len(unique) < len(rows):
        sel = torch.tensor(of_row, device=device)
        cache.batch_select_indices(sel)  # a prompt's keys and values, once per row that asked it
        logits, mask, positions = logits[sel], mask[sel], positions[sel]
    live = list(rows)
    generated = 0
    while True:
        tokens = choose_tokens(logits.float(), live)  # float32, as generate() takes them
        generated += len(tokens)
        keep = [i for i, (r, t) in enumerate(zip(live, tokens)) if not r.cancelled()
                and not r.advance(t, tokenizer, eos_ids)]
        for i, r in enumerate(live):
            if r.finish_reason is None and i not in keep:
                r.finish_reason = "cancelled"
                r.on_finish("cancelled")
        if not keep:
            return generated
        next_ids = torch.tensor([tokens[i] for i in keep], device=device)[:, None]  # (B', 1)
        if len(keep) < len(live):  # finished rows leave the batch and the cache
            sel = torch.tensor(keep, device=device)
            cache.batch_select_indices(sel)
            mask, positions = mask[sel], positions[sel]
            live = [live[i] for i in keep]
        mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        positions = positions[:, -1:] + 1
        out = model(input_ids=next_ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True,
                    logits_to_keep=1)
        logits = out.logits[:, -1, :]
