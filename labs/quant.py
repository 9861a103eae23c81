"""Load a base model for QLoRA: 4-bit NF4 with double quantization through bitsandbytes, or full precision.

Holds the one guard against bitsandbytes' AVX512-BF16 CPU repacking (see `disable_cpu_weight_repacking`) and
the layer-size check that its CPU 4-bit path needs. Not the place for LoRA (labs.train) or merging (labs.export).
"""

from __future__ import annotations

import warnings

from labs import LabError

QUANT_BLOCK = 32  # bitsandbytes' CPU 4-bit kernels assert out_features % 32 == 0


def import_bitsandbytes():
    """Import bitsandbytes with its import-time `torch.compile` calls deferred: about 2 s off every lab command.

    bitsandbytes 0.50.2's default backend wraps four helpers in `torch.compile` as it is imported, which pulls in
    torch._dynamo and torch._inductor (2.0 s of a 2-core CPU's 5.6 s of imports) although the CPU and CUDA paths the
    labs take call bitsandbytes' own kernels instead. While bitsandbytes imports, `torch.compile` is a stand-in that
    compiles on the first call; bitsandbytes' wrapper still falls back to the plain function if compiling fails then.
    Call it before anything imports peft (which imports bitsandbytes); later calls return the loaded module.
    """
    import sys

    if "bitsandbytes" in sys.modules:
        return sys.modules["bitsandbytes"]
    import torch

    real_compile = torch.compile
    torch.compile = _compile_on_first_call(real_compile)
    try:
        import bitsandbytes
    finally:
        torch.compile = real_compile
    return bitsandbytes


def import_training_stack() -> None:
    """Import torch, bitsandbytes, peft and transformers' model classes up front, with the garbage collector paused.

    They are a lab run's fixed cost before its first step. The imports create hundreds of thousands of objects and
    none of them are garbage, so the cyclic collector's passes over them are wasted: pausing it took these imports
    from 3.7 s to 3.0 s (median of 6 alternating runs on a 2-core CPU). The lazy imports inside functions then find
    the modules loaded.
    """
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import_bitsandbytes()
        import peft  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
    finally:
        if was_enabled:
            gc.enable()


def _compile_on_first_call(real_compile):
    import functools

    def compile_later(model=None, **options):
        if model is None:  # used as @torch.compile(**options)
            return lambda fn: compile_later(fn, **options)
        compiled = None

        @functools.wraps(model)
        def call(*args, **kwargs):
            nonlocal compiled
            if compiled is None:
                compiled = real_compile(model, **options)
            return compiled(*args, **kwargs)

        return call

    return compile_later


def torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def pick_device(requested: str = "auto") -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise LabError("device: cuda was requested but no CUDA GPU is visible; use device: auto or cpu")
    return requested


def disable_cpu_weight_repacking(model) -> int:
    """Stop bitsandbytes (0.50.2) from repacking 4-bit weights in place on CPUs with AVX512-BF16.

    On such CPUs the first no-grad forward (an evaluation, `generate`) converts each Linear4bit's weight to a
    packed layout for a fused kernel. Backward and `merge_and_unload` still read the original layout, so after
    an evaluation training silently goes wrong (loss rises) and merging gives garbage. Setting the flag right
    after loading keeps the portable layout everywhere. Returns the number of modules changed.
    """
    changed = 0
    for module in model.modules():
        if getattr(module, "support_avx512bf16_for_cpu", False):
            module.support_avx512bf16_for_cpu = False
            changed += 1
    return changed


def check_quantizable(config, device: str) -> None:
    """Fail early, naming the layer, when a Linear's output size would hit bitsandbytes' CPU assertion."""
    if device != "cpu":
        return
    sizes = {
        "hidden_size": getattr(config, "hidden_size", None),
        "intermediate_size": getattr(config, "intermediate_size", None),
    }
    heads, kv = getattr(config, "num_attention_heads", None), getattr(config, "num_key_value_heads", None)
    head_dim = getattr(config, "head_dim", None) or (sizes["hidden_size"] // heads if heads else None)
    if kv and head_dim:
        sizes["num_key_value_heads x head_dim"] = kv * head_dim
    bad = {k: v for k, v in sizes.items() if v is not None and v % QUANT_BLOCK}
    if bad:
        detail = ", ".join(f"{k}={v}" for k, v in bad.items())
        raise LabError(f"4-bit on CPU needs every layer size to be a multiple of {QUANT_BLOCK}, got {detail}; "
                       "use quantization: none in the recipe, or a model with such sizes")


def quiet_transformers() -> None:
    """No per-tensor "Loading weights" bars or a known-harmless deprecation warning in a lab's log."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    # peft 0.21 reads an attribute that transformers 5 renamed: harmless, but it would print on every run
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def load_model(base: str, quantization: str = "nf4", double_quant: bool = True, compute_dtype: str = "float32",
               device: str = "cpu"):
    """`from_pretrained` the base, 4-bit (nf4|fp4) or unquantized ("none"), on `device`; guard applied."""
    import_bitsandbytes()
    from transformers import AutoConfig, AutoModelForCausalLM, BitsAndBytesConfig

    from labs.hub import hub_error

    quiet_transformers()

    try:
        config = AutoConfig.from_pretrained(base)
    except (OSError, ValueError) as exc:
        raise hub_error(base, exc) from exc
    dtype = torch_dtype(compute_dtype)
    kwargs = {"dtype": dtype, "device_map": {"": device}}
    if quantization in ("nf4", "fp4"):
        check_quantizable(config, device)
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=quantization,  # NormalFloat4: levels at quantiles of a normal, like the weights
            bnb_4bit_use_double_quant=double_quant,  # quantize the per-block scales too (~0.4 bit/param saved)
            bnb_4bit_compute_dtype=dtype,  # matmuls dequantize to this; fp32 on CPU, bf16 on a GPU
        )
    elif quantization != "none":
        raise LabError(f"quantization should be nf4, fp4 or none, got {quantization!r}")
    try:
        model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    except OSError as exc:
        raise hub_error(base, exc) from exc
    disable_cpu_weight_repacking(model)
    return model


def quantized_layers(model) -> int:
    bnb = import_bitsandbytes()
    return sum(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())


def describe_quantization(quantization: str, double_quant: bool) -> str:
    if quantization == "none":
        return "none"
    return f"{quantization}+double_quant" if double_quant else quantization
