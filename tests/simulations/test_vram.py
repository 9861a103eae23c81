"""Tests for the chapter 3 memory model: the spec's 84 GB for fully fine-tuning a 7B model, about 6 GB
for Llama-3.1-8B in 4-bit, and the NF4 and double-quantization constant sizes.
"""

import pytest

from simulations import vram


def test_full_fine_tune_of_a_7b_model_needs_84_gb_for_weights_gradients_and_adam():
    result = vram.simulate(vram.Params(preset="custom", model_size_b=7, method="full-adam"))
    parts = result.selected
    assert (parts["weights"], parts["gradients"], parts["optimizer"]) == pytest.approx((14, 14, 56))
    assert parts["weights"] + parts["gradients"] + parts["optimizer"] == pytest.approx(84)
    assert result.total_gb > 80  # with activations it no longer fits one 80 GB GPU
    assert "more than one 80 GB GPU" in vram.headline(result)


def test_llama_31_8b_loads_in_about_16_gb_in_bf16_and_about_6_gb_in_qlora():
    bf16 = vram.simulate(vram.Params(preset="llama-3.1-8b", method="lora-bf16"))
    qlora = vram.simulate(vram.Params(preset="llama-3.1-8b", method="qlora-nf4-dq"))
    assert bf16.loaded_gb == pytest.approx(16, abs=0.5)
    assert qlora.loaded_gb == pytest.approx(6, abs=0.5)


@pytest.mark.parametrize("preset", ["custom", "llama-3.1-8b", "mistral-7b", "qwen2.5-7b"])
def test_qlora_of_a_7_to_8b_model_trains_in_about_6_gb_on_one_24_gb_gpu(preset):
    result = vram.simulate(vram.Params(preset=preset, method="qlora-nf4-dq"))
    assert 4.5 <= result.total_gb <= 7.5
    assert "fits a 24 GB GPU" in vram.headline(result)


def test_quantization_constants_are_half_a_bit_per_weight_and_0_127_with_double_quant():
    linear = 7e9  # a bare size counts every parameter as a quantized linear weight
    nf4 = vram.simulate(vram.Params(method="qlora-nf4")).selected["quantization_constants"]
    double = vram.simulate(vram.Params(method="qlora-nf4-dq")).selected["quantization_constants"]
    assert nf4 * 1e9 * 8 / linear == pytest.approx(0.5)
    assert double * 1e9 * 8 / linear == pytest.approx(0.127, abs=0.001)


def test_methods_need_less_memory_in_the_order_the_chapter_introduces_them():
    breakdown = vram.simulate(vram.Params()).breakdown
    totals = [sum(breakdown[method].values()) for method in vram.METHODS]
    assert totals == sorted(totals, reverse=True)


def test_activations_are_the_same_for_every_method_and_grow_linearly_with_tokens():
    base = vram.simulate(vram.Params(seq_len=512, batch_size=1)).breakdown
    assert len({parts["activations"] for parts in base.values()}) == 1
    longer = vram.simulate(vram.Params(seq_len=2048, batch_size=2)).selected["activations"]
    assert longer == pytest.approx(8 * base["qlora-nf4-dq"]["activations"])


def test_lora_rank_changes_only_the_adapter_share():
    small = vram.simulate(vram.Params(r=8)).selected
    large = vram.simulate(vram.Params(r=64)).selected
    assert large["optimizer"] == pytest.approx(8 * small["optimizer"])
    assert large["activations"] == small["activations"]


@pytest.mark.parametrize("values", [
    {"preset": "custom", "model_size_b": 405, "method": "full-adam", "seq_len": 32768, "batch_size": 64, "r": 256},
    {"preset": "smollm2-135m", "method": "qlora-nf4", "seq_len": 128, "r": 1},
])
def test_figure_is_valid_at_extreme_settings(run, check_figure, values):
    check_figure(vram.figure(run(vram, **values)))
