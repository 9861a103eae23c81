"""While a batch decodes, each LoRA layer computes peft's arithmetic without peft's per-call bookkeeping.

peft's LoRA forward checks its arguments, clones the base output, walks the active adapters and calls three
submodules (dropout, A, B) on every call; on the ~0.6M-parameter `tiny` base that Python work is most of what an
adapter adds to a decode step. `lean_lora` swaps each layer's forward for `base(x) + B(A(x)) * scaling` in one
function, in peft's order of operations (greedy answers are unchanged), and restores peft's afterwards. peft still
loads, sets and deletes adapters. Eval mode only: dropout is skipped.
"""

from __future__ import annotations

import contextlib
from functools import partial

import torch.nn.functional as F


def _lora_forward(base_layer, a, b, scaling: float, x, *args, **kwargs):
    result = base_layer(x, *args, **kwargs)
    if x.dtype != a.dtype:  # e.g. bf16 activations, fp32 adapter weights: peft casts the same way
        return result + (F.linear(F.linear(x.to(a.dtype), a), b) * scaling).to(result.dtype)
    return result + F.linear(F.linear(x, a), b) * scaling


@contextlib.contextmanager
def lean_lora(model, adapter: str | None):
    """Within the block, `model`'s LoRA layers run `adapter` (peft's internal name), or only their base for None."""
    from peft.tuners.lora import LoraLayer

    patched = []
    try:
        for module in model.modules():
            if not isinstance(module, LoraLayer) or adapter in module.lora_variant:  # DoRA & co: peft's own path
                continue
            if adapter is not None and adapter in module.lora_A:
                module.forward = partial(_lora_forward, module.base_layer, module.lora_A[adapter].weight,
                                         module.lora_B[adapter].weight, module.scaling[adapter])
            else:
                module.forward = module.base_layer.__call__  # a bound method: a Module would become a child
            patched.append(module)
        yield model
    finally:
        for module in patched:
            del module.forward  # the class's forward (peft's) again
