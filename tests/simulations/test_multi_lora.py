"""Tests for the chapter 6 multi-LoRA model: N merged copies against one base plus N adapters, and a
routing diagram in which every request reaches its own tenant's adapter and the one shared base.
"""

import pytest

from simulations import lora_params, multi_lora


def test_merged_deployments_need_a_whole_bf16_model_per_tenant():
    result = multi_lora.simulate(multi_lora.Params(tenants=20, base_size_b=8))
    assert result.base_gb == pytest.approx(16)
    assert result.merged_gb == pytest.approx(20 * 16)


def test_spec_quiz_15_variants_of_llama_8b_need_about_14_times_less_memory():
    result = multi_lora.simulate(multi_lora.Params(tenants=15, base_size_b=8, r=16))
    assert result.adapter_mb == pytest.approx(84, abs=1)  # "tens of MB"
    assert result.multi_lora_gb == pytest.approx(16 + 15 * 0.084, abs=0.01)
    assert result.ratio == pytest.approx(13.9, abs=0.1)


def test_the_adapter_is_the_llama_31_8b_adapter_for_an_8b_base():
    adapter = multi_lora.simulate(multi_lora.Params(base_size_b=8, r=16)).adapter_params
    assert adapter == lora_params.simulate(lora_params.Params(preset="llama-3.1-8b", r=16)).trainable_params


@pytest.mark.parametrize("tenants", [2, 10, 50])
def test_the_ratio_tends_to_the_number_of_tenants(tenants):
    result = multi_lora.simulate(multi_lora.Params(tenants=tenants, r=8))
    assert 0.8 * tenants < result.ratio < tenants


def test_a_single_tenant_gains_nothing():
    result = multi_lora.simulate(multi_lora.Params(tenants=1))
    assert result.ratio < 1 and "from the second tenant" in multi_lora.headline(result)


def test_every_request_goes_through_its_own_adapter_to_the_one_base():
    result = multi_lora.simulate(multi_lora.Params(tenants=12, requests_per_tenant=5))
    sankey = next(trace for trace in multi_lora.figure(result)["data"] if trace["type"] == "sankey")
    n, base = result.tenants, 2 * result.tenants
    links = list(zip(sankey["link"]["source"], sankey["link"]["target"], sankey["link"]["value"]))
    assert all(target == source + n for source, target, _ in links if source < n)
    assert sum(value for _, target, value in links if target == base) == result.requests.sum()
    assert result.requests.min() >= 1


@pytest.mark.parametrize("values", [
    {"tenants": 1, "base_size_b": 0.1, "r": 1, "requests_per_tenant": 1},
    {"tenants": 50, "base_size_b": 405, "r": 256, "requests_per_tenant": 20},
])
def test_figure_is_valid_at_extreme_settings(run, check_figure, values):
    check_figure(multi_lora.figure(run(multi_lora, **values)))
