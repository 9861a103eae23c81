"""A sweep's zero-example point: `train_examples: 0` evaluates the micro base exactly as a trained run is
evaluated, without a training step, and writes the same metrics and event stream."""

from labs.config import apply_overrides, load_recipe
from labs.events import read_events
from tests.labs.conftest import SHORT_RUN, lab_environment


def test_zero_examples_measures_the_base_without_training_it(micro_base, lab_data_dir, tmp_path):
    from labs.train import run

    cfg = apply_overrides(load_recipe("legal-format"), [*SHORT_RUN, "train_examples=0"])
    with lab_environment(lab_data_dir):
        metrics = run(cfg, tmp_path / "zero")
    assert metrics["steps"] == 0 and metrics["engine"] == "none" and metrics["tokens"] == 0
    assert metrics["compliance_after"] == metrics["compliance_before"] <= 0.2  # the base, before and after
    assert metrics["relevance_after"] == metrics["relevance_before"]
    assert metrics["regression"]["format_leak_after"] == metrics["regression"]["format_leak_before"]
    events = read_events(tmp_path / "zero" / "events.jsonl")
    types = [e["type"] for e in events]
    assert "loss" not in types and types[-1] == "done"
    before, after = [e for e in events if e["type"] == "eval"]
    assert (before["which"], after["which"]) == ("before", "after")
    # the "after" event is the base measured once: every figure the "before" event carries, relevance included
    figures = lambda e: {k: v for k, v in e.items() if k not in ("which", "elapsed_s", "eta_s")}  # noqa: E731
    assert figures(after) == figures(before) and "relevance_match" in after and "relevance_chance" in after
    assert after["relevance_match"] == metrics["relevance_match_after"]
    assert (tmp_path / "zero" / "adapter" / "adapter_config.json").exists()
    assert (tmp_path / "zero" / "train.jsonl").read_text() == ""


def test_train_examples_below_zero_is_refused_by_name():
    import pytest

    from labs import LabError

    with pytest.raises(LabError, match="train_examples should be an integer from 0"):
        apply_overrides(load_recipe("legal-format"), ["train_examples=-1"])
