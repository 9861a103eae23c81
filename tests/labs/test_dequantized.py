"""The dequantise-once view of a 4-bit base gives exactly the numbers bitsandbytes' own path gives (outputs, training
losses and LoRA gradients), and leaves the model as it found it; generation through the whole inference view (with
LoRA) answers exactly the same.

Uses the session's micro base.
"""

import torch

from labs.dequantized import dequantized_base
from labs.quant import load_model
from tests.labs.conftest import training_batch_with_live_lora


def _four_bit_layers(model):
    import bitsandbytes as bnb

    return [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]


def test_every_4bit_layer_gives_bit_identical_outputs_with_its_weight_dequantised_once(micro_base):
    model = load_model(str(micro_base), "nf4", double_quant=True)
    layers = _four_bit_layers(model)
    inputs = [torch.randn(3, 5, layer.in_features) for layer in layers]
    with torch.no_grad():
        plain = [layer(x) for layer, x in zip(layers, inputs)]
        with dequantized_base(model, "cpu") as changed:
            assert changed == len(layers) == 14
            fast = [layer(x) for layer, x in zip(layers, inputs)]
    assert all(torch.equal(a, b) for a, b in zip(fast, plain))
    assert all("forward" not in vars(layer) for layer in layers)  # the 4-bit forward is back


def test_a_whole_models_logits_are_unchanged_and_no_other_device_is_touched(micro_base):
    model = load_model(str(micro_base), "nf4", double_quant=True)
    ids = torch.randint(0, model.config.vocab_size, (2, 12))
    with torch.no_grad():
        ref = model(input_ids=ids).logits
        with dequantized_base(model, "cpu"):
            fast = model(input_ids=ids).logits
        with dequantized_base(model, "cuda") as changed:  # GPUs keep bitsandbytes' fused kernels
            assert changed == 0
    assert torch.equal(fast, ref)


def test_the_inference_view_generates_the_same_answers_as_peft_on_the_4bit_base(short_run_config, short_run):
    from peft import PeftModel

    from labs import corpus
    from labs.evaluate import generate, inference_view
    from labs.train import load_for_training

    run_dir, _ = short_run
    model, tokenizer, device = load_for_training(short_run_config, adapter_dir=run_dir / "adapter")
    assert isinstance(model, PeftModel)
    prompts = [ex["messages"][:-1] for ex in corpus.legal_format_heldout(6, 0)]
    answer = lambda: generate(model, tokenizer, prompts, 40, sampled=prompts, batch_size=12)  # noqa: E731
    plain = answer()
    with model.disable_adapter():
        plain_base = answer()
    with inference_view(model, device, adapter=True):
        fast = answer()
    with inference_view(model, device, adapter=False):
        fast_base = answer()
    assert fast == plain and fast_base == plain_base  # greedy and sampled answers alike
    assert plain[0] != plain_base[0]  # the adapter really changed the answers, so the comparison means something


def test_training_through_the_dequantised_base_gives_bit_identical_losses_and_lora_gradients(short_run_config):
    from labs.lean_lora_train import lean_lora_training
    from labs.train import answer_loss, load_for_training

    torch.manual_seed(0)
    model, tokenizer, device = load_for_training(short_run_config)
    batch = training_batch_with_live_lora(model, tokenizer, device)
    model.train()

    def loss_and_grads():
        model.zero_grad(set_to_none=True)
        loss = answer_loss(model, batch)
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    with lean_lora_training(model, short_run_config.lora.dropout):
        bnb_loss, bnb_grads = loss_and_grads()
        with dequantized_base(model, device) as changed:
            assert changed == 14
            fast_loss, fast_grads = loss_and_grads()
    assert torch.equal(fast_loss, bnb_loss)
    assert fast_grads.keys() == bnb_grads.keys() and len(fast_grads) == 28  # A and B of 14 layers
    assert all(torch.equal(fast_grads[n], bnb_grads[n]) for n in bnb_grads)
    assert all(g.abs().sum() > 0 for g in bnb_grads.values())  # every gradient is there to compare


def test_a_nested_block_leaves_the_enclosing_blocks_weights_in_place(micro_base):
    model = load_model(str(micro_base), "nf4", double_quant=True)
    layers = _four_bit_layers(model)
    with dequantized_base(model, "cpu") as outer:
        patched = [vars(layer)["forward"] for layer in layers]
        with dequantized_base(model, "cpu") as inner:
            assert (outer, inner) == (14, 0)
        assert [vars(layer).get("forward") for layer in layers] == patched  # still the outer block's
    assert all("forward" not in vars(layer) for layer in layers)
