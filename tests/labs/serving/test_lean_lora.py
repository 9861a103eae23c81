"""The serving path's lean LoRA forward gives bit for bit what peft's forward gives, for an adapter and for the
bare base, and leaves peft's forward in place afterwards."""

import pytest
import torch

from labs.serving.adapters import LoadedBase
from labs.serving.lean_lora import lean_lora


@pytest.fixture(scope="module")
def loaded(micro_base, adapter_dirs):
    loaded = LoadedBase.load("micro", max_adapters=2)
    loaded.ensure_adapter("legal-a", adapter_dirs["legal-a"])
    return loaded


def logits(model, ids):
    with torch.inference_mode():
        return model(input_ids=ids).logits


def test_lean_lora_equals_peft_for_the_adapter_and_for_the_base(loaded):
    model, name = loaded.model, loaded.peft_name("legal-a")
    ids = torch.tensor([loaded.tokenizer("Please help me with my tenancy.")["input_ids"]])
    model.set_adapter(name)
    with_adapter = logits(model, ids)
    with model.disable_adapter():
        base = logits(model, ids)
    assert not torch.equal(with_adapter, base)  # the adapter changes the answer: the comparison means something
    with lean_lora(model, name):
        assert torch.equal(logits(model, ids), with_adapter)
    with lean_lora(model, None):
        assert torch.equal(logits(model, ids), base)
    assert torch.equal(logits(model, ids), with_adapter)  # peft's own forward is back
    assert not any("forward" in vars(m) for m in model.modules())
