"""Training and evaluation on CPU without dequantising the frozen 4-bit base at every forward and backward.

bitsandbytes' CPU path turns each Linear4bit's NF4 weight back into the compute dtype on every forward call, then
runs a plain `linear`, and does it again in the backward pass for the input's gradient; 60 training steps repeat that
120 times per layer, generating 120 tokens for 112 rows ~120 times more. The base is frozen throughout a QLoRA run
(only LoRA's A and B learn), so `dequantized_base` does it once per layer and reuses the tensor: the very numbers
bitsandbytes would compute, so outputs, losses and gradients are bit-identical, held only for the block's duration.
A GPU keeps the 4-bit weights: there bitsandbytes' fused kernels dequantise tile by tile inside the matmul, and the
memory that 4-bit saves is what lets a larger base fit at all.
"""

from __future__ import annotations

import contextlib

# Above this many base parameters the temporary copy costs more memory than a lab machine should spend on speed.
MAX_PARAMS = 200_000_000


@contextlib.contextmanager
def dequantized_base(model, device: str):
    """Within the block, every 4-bit layer of `model` multiplies by its weight dequantised once (CPU only)."""
    import torch.nn.functional as F

    from labs.quant import import_bitsandbytes

    bnb = import_bitsandbytes()
    # A layer already patched belongs to an enclosing block (a validation pass inside training): that block restores it
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit) and "forward" not in vars(m)]
    if device != "cpu" or not layers or sum(m.weight.numel() * 2 for m in layers) > MAX_PARAMS:
        yield 0  # a GPU has fused 4-bit kernels; a large base keeps its memory
        return
    for layer in layers:
        weight = bnb.functional.dequantize_4bit(layer.weight.data, layer.weight.quant_state)
        layer.forward = _plain_linear(F, weight, layer.bias, layer.compute_dtype)
    try:
        yield len(layers)
    finally:
        for layer in layers:
            del layer.forward  # back to the class's 4-bit forward


def _plain_linear(F, weight, bias, compute_dtype):
    """What Linear4bit.forward computes (cast to the compute dtype, linear, cast back), with a fixed weight."""
    weight = weight if compute_dtype is None else weight.to(compute_dtype)
    bias = None if bias is None else bias.to(weight.dtype)

    def forward(x):
        return F.linear(x.to(weight.dtype), weight, bias).to(x.dtype)

    return forward
