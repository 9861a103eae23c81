"""4-bit loading: layers really become bitsandbytes NF4 Linear4bit with double quantization, and the AVX512-BF16
guard keeps training correct after an evaluation (loss falls), which it does not without the guard on such CPUs;
bitsandbytes imports without its import-time torch.compile calls, which compile on first use instead.

Uses the session's micro base.
"""

import pytest
import torch

from labs import LabError, corpus
from labs.config import apply_overrides, load_recipe
from labs.quant import check_quantizable, disable_cpu_weight_repacking, load_model, quantized_layers


def test_nf4_loading_replaces_every_linear_layer_with_a_4bit_one(micro_base):
    import bitsandbytes as bnb

    model = load_model(str(micro_base), "nf4", double_quant=True)
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(layers) == quantized_layers(model) == 2 * 7  # 2 blocks x (q, k, v, o, gate, up, down)
    for layer in layers:
        assert layer.weight.dtype == torch.uint8  # two 4-bit codes per byte
        assert layer.weight.numel() * 2 == layer.in_features * layer.out_features
        assert layer.weight.quant_state.quant_type == "nf4"
        assert layer.weight.quant_state.nested  # double quantization: the scales are quantized too
        assert layer.support_avx512bf16_for_cpu is False  # the guard ran
    assert not isinstance(model.lm_head, bnb.nn.Linear4bit)  # the output head stays in full precision


def test_quantization_none_keeps_full_precision_layers(micro_base):
    model = load_model(str(micro_base), "none")
    assert quantized_layers(model) == 0


def test_layer_sizes_that_are_not_multiples_of_32_are_refused_on_cpu_naming_the_size():
    from transformers import LlamaConfig

    config = LlamaConfig(hidden_size=96, intermediate_size=200, num_attention_heads=3, num_key_value_heads=3)
    with pytest.raises(LabError, match="intermediate_size=200"):
        check_quantizable(config, "cpu")
    check_quantizable(config, "cuda")  # the GPU kernels have no such limit


def _train_after_generate(cfg, guard: bool) -> list[float]:
    from labs.batching import collate, encode
    from labs.evaluate import generate
    from labs.train import load_for_training

    torch.manual_seed(0)
    model, tok, _ = load_for_training(cfg)
    if not guard:  # undo the guard to show what it prevents
        for m in model.modules():
            if hasattr(m, "support_avx512bf16_for_cpu"):
                m.support_avx512bf16_for_cpu = True
    examples = corpus.legal_format_examples(8)
    batch = collate([encode(tok, e["messages"], 256) for e in examples], tok.pad_token_id, "cpu")
    generate(model, tok, [e["messages"][:-1] for e in examples[:2]], max_new_tokens=5)  # the no-grad forward
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    losses = []
    for _ in range(10):
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses


def test_loss_still_falls_when_training_follows_an_evaluation(micro_base):
    cfg = apply_overrides(load_recipe("legal-format"), ["base=micro"])
    losses = _train_after_generate(cfg, guard=True)
    assert losses[-1] < 0.7 * losses[0], losses
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


def _has_avx512bf16() -> bool:
    from bitsandbytes.functional import has_avx512bf16

    return has_avx512bf16()


@pytest.mark.skipif(not _has_avx512bf16(), reason="only CPUs with AVX512-BF16 repack 4-bit weights")
def test_without_the_guard_training_after_an_evaluation_goes_wrong_on_this_cpu(micro_base):
    cfg = apply_overrides(load_recipe("legal-format"), ["base=micro"])
    losses = _train_after_generate(cfg, guard=False)
    assert losses[-1] > losses[0], "bitsandbytes no longer breaks here: the guard in labs.quant may be obsolete"


def test_the_guard_counts_the_modules_it_changes(micro_base):
    model = load_model(str(micro_base), "nf4")
    for m in model.modules():
        if hasattr(m, "support_avx512bf16_for_cpu"):
            m.support_avx512bf16_for_cpu = True
    assert disable_cpu_weight_repacking(model) == 14
    assert disable_cpu_weight_repacking(model) == 0


def test_bitsandbytes_imports_without_torch_compile_and_compiles_on_first_use_instead():
    import subprocess
    import sys

    code = ("import sys, torch; real = torch.compile\n"
            "from labs.quant import import_bitsandbytes; bnb = import_bitsandbytes()\n"
            "assert torch.compile is real, 'torch.compile not restored'\n"
            "assert 'torch._inductor.compile_fx' not in sys.modules, 'bitsandbytes still compiled at import'\n"
            "assert import_bitsandbytes() is bnb\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_compile_stand_in_compiles_once_on_the_first_call_with_the_options_given():
    from labs.quant import _compile_on_first_call

    compiled = []

    def fake_compile(fn, **options):
        compiled.append(options)
        return lambda *a, **k: ("compiled", fn(*a, **k))

    lazy = _compile_on_first_call(fake_compile)
    double = lazy(lambda x: 2 * x, dynamic=False)
    triple = lazy(dynamic=True)(lambda x: 3 * x)  # the decorator form
    assert compiled == []
    assert double(4) == ("compiled", 8) and double(5) == ("compiled", 10)
    assert triple(2) == ("compiled", 6)
    assert compiled == [{"dynamic": False}, {"dynamic": True}]
