"""The loop's lean LoRA forward trains exactly as peft's does (losses and every LoRA gradient bit for bit at the
recipes' alpha / r = 2, to float rounding at another ratio), keeps peft's forward where dropout is on, and leaves
peft's forward in place afterwards.

Uses the session's micro base.
"""

import pytest
import torch

from labs.config import apply_overrides
from labs.lean_lora_train import lean_lora_training
from tests.labs.conftest import training_batch_with_live_lora


def _loss_and_grads(model, batch):
    from labs.train import answer_loss

    model.zero_grad(set_to_none=True)
    loss = answer_loss(model, batch)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def _model_and_batch(cfg):
    from labs.train import load_for_training

    torch.manual_seed(0)
    model, tokenizer, device = load_for_training(cfg)
    batch = training_batch_with_live_lora(model, tokenizer, device)
    model.train()
    return model, batch


def test_the_lean_forward_gives_peft_s_losses_and_gradients_bit_for_bit(short_run_config):
    model, batch = _model_and_batch(short_run_config)
    peft_loss, peft_grads = _loss_and_grads(model, batch)
    with lean_lora_training(model, short_run_config.lora.dropout) as patched:
        assert patched == 14  # seven projections in each of the micro base's two layers
        lean_loss, lean_grads = _loss_and_grads(model, batch)
    assert torch.equal(lean_loss, peft_loss)
    assert lean_grads.keys() == peft_grads.keys() and len(lean_grads) == 28
    assert all(torch.equal(lean_grads[n], peft_grads[n]) for n in peft_grads)
    assert all(g.abs().sum() > 0 for g in peft_grads.values())  # every gradient is there to compare
    assert not any("forward" in vars(m) for m in model.modules())  # peft's forward is back


def test_a_scaling_that_is_not_a_power_of_two_agrees_to_float_rounding(short_run_config):
    cfg = apply_overrides(short_run_config, ["lora.alpha=12"])  # 12 / 8 = 1.5
    model, batch = _model_and_batch(cfg)
    peft_loss, peft_grads = _loss_and_grads(model, batch)
    with lean_lora_training(model, cfg.lora.dropout):
        lean_loss, lean_grads = _loss_and_grads(model, batch)
    assert lean_loss.item() == pytest.approx(peft_loss.item(), rel=1e-6)
    for name, grad in lean_grads.items():  # within float32 rounding of the gradient's own scale
        ref = peft_grads[name]
        assert (grad - ref).abs().max() <= 1e-5 * ref.abs().max(), name
    assert any(not torch.equal(lean_grads[n], peft_grads[n]) for n in peft_grads)  # the order really differs


def test_a_recipe_with_dropout_keeps_peft_s_forward(short_run_config):
    cfg = apply_overrides(short_run_config, ["lora.dropout=0.1"])
    model, _ = _model_and_batch(cfg)
    with lean_lora_training(model, cfg.lora.dropout) as patched:
        assert patched == 0
        assert not any("forward" in vars(m) for m in model.modules())
