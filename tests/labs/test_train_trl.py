"""`--engine trl`: the same recipe through trl.SFTTrainer streams the same events and writes the same metrics.

A 20-step run on the micro base (imports trl and datasets: about 15 s in all).
"""

from labs.config import apply_overrides
from labs.events import read_events


def test_the_trl_engine_streams_loss_events_and_writes_complete_metrics(short_run_config, tmp_path):
    from labs.train import run

    cfg = apply_overrides(short_run_config, ["steps=20", "warmup_steps=2", "eval.heldout=5", "eval.regression=2"])
    metrics = run(cfg, tmp_path / "run", engine="trl")
    events = read_events(tmp_path / "run" / "events.jsonl")
    losses = [e for e in events if e["type"] == "loss"]
    assert [e["step"] for e in losses] == list(range(1, 21))
    assert losses[-1]["loss"] < losses[0]["loss"]
    assert events[-1]["type"] == "done"
    assert metrics["engine"] == "trl" and metrics["quantized_layers"] == 14
    assert metrics["tokens_per_s"] > 0 and metrics["trainable_params"] > 0
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").exists()
