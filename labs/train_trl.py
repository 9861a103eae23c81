"""`--engine trl`: the same recipe through `trl.SFTTrainer`, for parity with the lean loop in labs.train.

Same 4-bit base (with the AVX512-BF16 guard), same LoRA settings, same data, batch size, schedule and steps;
prompt tokens are masked through TRL's prompt-completion format (`completion_only_loss`), which works with any
chat template. Loss events stream from a TrainerCallback. Evaluation and saving are shared with labs.train.
"""

from __future__ import annotations

import time
from pathlib import Path

from labs import LabError
from labs.events import EventWriter


def sft_config_kwargs(cfg, output_dir: str, device: str) -> dict:
    """SFTConfig arguments matching the recipe; also used by the exported TRL script."""
    return dict(
        output_dir=output_dir,
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        lr_scheduler_type=cfg.schedule if cfg.schedule != "constant" else "constant_with_warmup",
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=1.0,
        max_length=cfg.max_seq_len,
        packing=False,
        completion_only_loss=True,
        gradient_checkpointing=cfg.gradient_checkpointing,  # TRL defaults to True; off for parity and speed
        bf16=device == "cuda",  # TRL defaults to bf16; the CPU path computes in fp32 like our loop
        use_cpu=device == "cpu",
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        seed=cfg.seed,
        data_seed=cfg.seed,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


def prompt_completion(examples: list[dict]) -> list[dict]:
    """{"messages": [...]} -> {"prompt": [...all but the last turn], "completion": [the last assistant turn]}."""
    return [{"prompt": ex["messages"][:-1], "completion": ex["messages"][-1:]} for ex in examples]


def train_trl(cfg, run_dir: Path, examples: list[dict], events: EventWriter) -> dict:
    import torch

    from labs.quant import import_bitsandbytes, load_model, pick_device

    import_bitsandbytes()  # before peft, which imports it
    from peft import LoraConfig
    from transformers import AutoTokenizer, PrinterCallback, TrainerCallback

    try:
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer
    except ImportError as exc:
        raise LabError(f"--engine trl needs the trl and datasets packages ({exc.name} is missing): "
                       "pip install trl datasets, or use the default engine") from None

    from labs.base import resolve_base
    from labs.batching import heldout_rows, validation_loss
    from labs.train import finish

    torch.manual_seed(cfg.seed)
    device = pick_device(cfg.device)
    base = resolve_base(cfg.base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_model(base, cfg.quantization, cfg.double_quant, cfg.resolved_dtype(device), device)
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      target_modules=list(cfg.lora.target_modules), bias="none", task_type="CAUSAL_LM")
    held = heldout_rows(cfg, tokenizer)

    class StreamLosses(TrainerCallback):
        def __init__(self):
            self.t0, self.cpu0, self.cpu_s, self.first, self.last = None, None, None, None, None

        def on_train_begin(self, args, state, control, **kw):
            self.t0, self.cpu0 = time.time(), time.process_time()

        def on_train_end(self, args, state, control, **kw):
            self.cpu_s = time.process_time() - self.cpu0

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                self.first = logs["loss"] if self.first is None else self.first
                self.last = logs["loss"]
                elapsed = time.time() - self.t0
                step = state.global_step
                events.emit("loss", step, eta_s=elapsed / max(1, step) * (cfg.steps - step),
                            loss=logs["loss"], lr=logs.get("learning_rate"),
                            tokens_per_s=round(state.num_input_tokens_seen / elapsed, 1) if elapsed else None)

    stream = StreamLosses()
    args = SFTConfig(**sft_config_kwargs(cfg, str(run_dir / "trl"), device), include_num_input_tokens_seen="non_padding")
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(prompt_completion(examples)),
                         processing_class=tokenizer, peft_config=lora, callbacks=[stream])
    trainer.remove_callback(PrinterCallback)  # our loss events replace its printed dicts
    events.emit("progress", phase="train", message=f"{len(examples)} examples, {cfg.steps} steps on {device} (trl)")
    out = trainer.train()
    model = trainer.model
    eval_loss = validation_loss(model, held, tokenizer.pad_token_id, device, cfg.eval.batch_size)
    stats = {"first_loss": stream.first, "last_loss": stream.last, "eval_loss": eval_loss,
             "train_s": out.metrics["train_runtime"], "cpu_s": stream.cpu_s,
             "tokens": trainer.state.num_input_tokens_seen}
    return finish(cfg, run_dir, "trl", model, tokenizer, device, held, events, stats)
