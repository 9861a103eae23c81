"""While our loop trains, each LoRA layer computes `base(x) + B(A(x) * scaling)` in one function, without peft's
per-call bookkeeping.

peft's LoRA forward checks its arguments, walks the active adapters and calls three submodules (dropout, A, B) on
every call, then scales the (tokens, out_features) product; on the ~1M-parameter `tiny` base that is a fair share of
a step. Here the scaling multiplies the rank-r intermediate instead, (tokens, r): 8 columns instead of 128-384, in the
forward and again in the backward. With the recipes' alpha / r a power of two (16 / 8 = 2) that is exact, so losses
and gradients are bit-identical to peft's; for another ratio they differ in the last bit of a float.
labs.serving.lean_lora is the inference counterpart (peft's exact order, for greedy answers). No dropout: a recipe
with lora.dropout > 0 keeps peft's forward.
"""

from __future__ import annotations

import contextlib
from functools import partial


def _lora_forward(F, base_layer, a, b, scaling: float, x, *args, **kwargs):
    result = base_layer(x, *args, **kwargs)
    if x.dtype != a.dtype:  # bf16 activations and fp32 adapter weights without autocast: peft casts the same way
        return result + F.linear(F.linear(x.to(a.dtype), a) * scaling, b).to(result.dtype)
    return result + F.linear(F.linear(x, a) * scaling, b)


@contextlib.contextmanager
def lean_lora_training(model, dropout: float):
    """Within the block, `model`'s LoRA layers run its active adapter through `_lora_forward` (when dropout is 0)."""
    import torch.nn.functional as F  # here, not at the top: labs.train imports this module, and the app imports
    from peft.tuners.lora import LoraLayer  # labs without torch

    adapter = model.active_adapter
    patched = []
    try:
        for module in model.modules() if not dropout else ():
            if not isinstance(module, LoraLayer) or adapter in module.lora_variant or adapter not in module.lora_A:
                continue  # DoRA & co keep peft's own path
            module.forward = partial(_lora_forward, F, module.base_layer, module.lora_A[adapter].weight,
                                     module.lora_B[adapter].weight, module.scaling[adapter])
            patched.append(module)
        yield len(patched)
    finally:
        for module in patched:
            del module.forward  # the class's forward (peft's) again
