"""Exports of the session's short run: the adapter, a merged model whose greedy answers match the unmerged adapter
model's, an Axolotl YAML with the run's settings, and a TRL script that really trains.

The TRL script test starts a subprocess (imports trl and datasets): about 20 s.
"""

import json
import shutil
import sys

import pytest
import yaml

from labs import LabError
from labs.export import export


def test_the_adapter_export_is_safetensors_with_its_config(short_run, tmp_path):
    run_dir, _ = short_run
    out = export(run_dir, "adapter", tmp_path / "adapter")
    config = json.loads((out / "adapter_config.json").read_text())
    assert (out / "adapter_model.safetensors").stat().st_size > 0
    assert config["r"] == 8 and config["peft_type"] == "LORA"
    assert set(config["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                             "down_proj"}


def test_the_merged_model_answers_exactly_like_the_adapter_model_on_greedy_decoding(short_run, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from labs.evaluate import generate, heldout_examples
    from labs.export import load_full_precision_with_adapter

    run_dir, _ = short_run
    from labs.config import load_config

    cfg = load_config(run_dir / "config.yaml")
    out = export(run_dir, "merged", tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    assert not any("lora" in name for name, _ in merged.named_parameters())  # an ordinary model now
    tok = AutoTokenizer.from_pretrained(out)
    adapted, _ = load_full_precision_with_adapter(run_dir, cfg)
    prompts = [ex["messages"][:-1] for ex in heldout_examples("legal-format", 8)]
    assert generate(merged, tok, prompts, 60) == generate(adapted, tok, prompts, 60)
    with adapted.disable_adapter():  # and the merge did change the model
        assert generate(adapted, tok, prompts, 60) != generate(merged, tok, prompts, 60)


def test_the_axolotl_config_reproduces_the_run_settings(short_run, tmp_path):
    run_dir, _ = short_run
    path = export(run_dir, "axolotl", tmp_path / "axolotl")
    config = yaml.safe_load(path.read_text())
    assert config["adapter"] == "qlora" and config["load_in_4bit"] is True
    assert (config["lora_r"], config["lora_alpha"], config["max_steps"]) == (8, 16, 80)
    assert config["learning_rate"] == 0.01 and config["lr_scheduler"] == "cosine"
    assert config["datasets"][0]["type"] == "chat_template" and config["train_on_inputs"] is False
    assert (path.parent / "train.jsonl").read_text() == (run_dir / "train.jsonl").read_text()


def test_the_trl_script_runs_and_saves_an_adapter(short_run, tmp_path):
    import subprocess

    run_dir, _ = short_run
    script = export(run_dir, "trl", tmp_path / "trl")
    compile(script.read_text(), str(script), "exec")
    done = subprocess.run([sys.executable, str(script), "--max-steps", "2", "--output-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "adapter_model.safetensors").exists()


@pytest.mark.parametrize("fmt", ["adapter", "merged", "axolotl", "trl"])
def test_no_export_carries_an_absolute_path_of_the_server(short_run, tmp_path, tmp_path_factory, fmt):
    """A download goes to someone else's machine: the data dir, run dir and checkout stay private."""
    from pathlib import Path

    run_dir, _ = short_run
    out = export(run_dir, fmt, tmp_path / fmt)
    private = {str(tmp_path_factory.getbasetemp().resolve()), str(Path.cwd().resolve()), str(Path.home())}
    files = [path for path in (out.parent if out.is_file() else out).rglob("*") if path.is_file()]
    assert files
    for path in files:
        content = path.read_bytes()
        for folder in private:
            assert folder.encode() not in content, f"{path.name} names {folder}"


def test_exporting_a_run_without_an_adapter_says_to_train_first(tmp_path):
    with pytest.raises(LabError, match="no trained adapter"):
        export(tmp_path, "merged")


def test_eval_run_reproduces_the_runs_greedy_compliance(short_run, tmp_path):
    from labs.evaluate import evaluate_run

    run_dir, metrics = short_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    report = evaluate_run(copy)
    assert report["compliance_before"] == metrics["compliance_before"]
    assert report["compliance_after"] == metrics["compliance_after"]
    assert report["side_by_side"][0]["prompt"] and (copy / "eval.json").exists()
