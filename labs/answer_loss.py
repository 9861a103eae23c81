"""The loop's training loss: mean cross-entropy over the answer tokens, computed only where it is needed.

Equal to `model(**batch).loss` (prompt and pad labels are -100), bit for bit on the labs' CPU path, with less work:
- only positions whose next token is learned go through the LM head, so the (batch, length, vocabulary) logits are
  never built (with Llama-3.2-1B's 128k vocabulary they are most of a step's activation memory);
- the last layer's MLP runs on those positions only (about half of a legal-format batch): an MLP works on each
  position alone, and the other positions' last hidden states are never read;
- a right-padded batch runs without its pad mask: under a causal mask no real token sees a later pad, so the
  learned positions get the same numbers and attention takes its causal path.
Architectures that may transform their logits (soft-capping, scaling) take the model's own loss.
"""

from __future__ import annotations

import contextlib

# Architectures whose logits are exactly lm_head(final hidden state): no soft-capping, scaling or bias.
PLAIN_HEAD_MODELS = {"llama", "mistral", "qwen2", "qwen3"}


def answer_loss(model, batch: dict):
    """Mean cross-entropy over the answer tokens of a (B, T) batch from labs.batching.collate."""
    import torch.nn.functional as F

    base = model.get_base_model()
    if base.config.model_type not in PLAIN_HEAD_MODELS:
        return model(**batch).loss
    mask, (B, T) = batch["attention_mask"], batch["input_ids"].shape
    targets = batch["labels"][:, 1:]  # position t predicts token t + 1
    learned = (targets != -100).nonzero()  # (row, position) in row-major order, as boolean indexing gives them
    flat = learned[:, 0] * T + learned[:, 1]  # the same positions in the flattened (B * T) hidden states
    right_padded = bool((mask[:, 1:] <= mask[:, :-1]).all())
    # Positions count from 0 with or without the mask (transformers derives them from the cache, not the mask)
    # Gradient checkpointing re-runs the layer in the backward pass, outside this block: it keeps the whole MLP
    last = base.model.layers[-1] if not base.is_gradient_checkpointing else None
    with mlp_on_rows(last, flat, B, T):
        hidden = base.model(input_ids=batch["input_ids"], attention_mask=None if right_padded else mask,
                            use_cache=False).last_hidden_state
    # One gather: its backward scatters into one zero tensor (slicing, then masking, built two)
    logits = base.get_output_embeddings()(hidden.reshape(B * T, -1).index_select(0, flat))
    return F.cross_entropy(logits.float(), targets[learned[:, 0], learned[:, 1]])


@contextlib.contextmanager
def mlp_on_rows(layer, flat, B: int, T: int):
    """Within the block, `layer`'s MLP computes only the flattened positions `flat` and gives zeros elsewhere (the
    residual stream carries those positions on, unread). No layer, or one without an `mlp`: nothing changes."""
    mlp = getattr(layer, "mlp", None)
    if mlp is None:
        yield
        return

    def forward(x):
        out = type(mlp).forward(mlp, x.reshape(B * T, -1).index_select(0, flat))
        return out.new_zeros(B * T, out.shape[-1]).index_copy(0, flat, out).view(B, T, -1)

    mlp.forward = forward
    try:
        yield
    finally:
        del mlp.forward
