"""`course-lab` as a real subprocess (`python -m labs`, as the web service runs it): exit codes, readable errors and
never a traceback for bad input; `--help` stays light.

Most cases only parse arguments or check files (about a second each); two start real model loading.
"""

import json
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "fixtures" / "chats"


def _no_traceback(done):
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout


def test_help_lists_the_commands_without_importing_torch(course_lab):
    done = course_lab("--help")
    assert done.returncode == 0
    for command in ("base", "data", "train", "eval", "export"):
        assert command in done.stdout
    import subprocess

    probe = subprocess.run([sys.executable, "-c", "import sys, labs, labs.cli, labs.config, labs.data, labs.corpus, "
                            "labs.events, labs.evaluate; print(sorted(m for m in ('torch', 'transformers', 'peft', "
                            "'bitsandbytes', 'trl', 'datasketch', 'fastapi') if m in sys.modules))"],
                           capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert probe.stdout.strip() == "[]", probe.stderr


def test_data_check_exits_0_for_a_usable_file_and_1_with_a_report_for_a_broken_one(course_lab, lab_data_dir):
    good = course_lab("data", "check", DATA / "good.jsonl")
    assert good.returncode == 0 and "usable: 0 errors" in good.stdout
    bad = course_lab("data", "check", DATA / "role_order.jsonl")
    assert bad.returncode == 1
    assert "line 3: message 3 is assistant but user was expected" in bad.stdout
    _no_traceback(bad)


def test_data_check_json_is_machine_readable(course_lab, lab_data_dir):
    done = course_lab("data", "check", "--json", DATA / "near_duplicate.jsonl")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["usable"] and report["warnings"] == 1
    assert report["issues"][0]["rule"] == "near_duplicate" and report["issues"][0]["line"] == 3
    assert course_lab("data", "check", "--strict", DATA / "near_duplicate.jsonl").returncode == 1


@pytest.mark.parametrize("name", ["not_utf8.jsonl", "empty_file.jsonl", "invalid_json.jsonl", "tool_call.jsonl"])
def test_data_check_never_shows_a_traceback_for_a_bad_file(course_lab, lab_data_dir, name):
    done = course_lab("data", "check", DATA / name)
    assert done.returncode == 1 and "NOT usable" in done.stdout
    _no_traceback(done)


def test_a_missing_file_or_a_folder_is_bad_input_exit_2(course_lab, lab_data_dir, tmp_path):
    missing = course_lab("data", "check", tmp_path / "nope.jsonl")
    assert missing.returncode == 2 and "file not found" in missing.stderr
    folder = course_lab("data", "check", tmp_path)
    assert folder.returncode == 2 and "is a folder" in folder.stderr
    _no_traceback(missing)
    _no_traceback(folder)


def test_data_clean_writes_the_cleaned_file_and_says_what_it_removed(course_lab, lab_data_dir, tmp_path):
    done = course_lab("data", "clean", DATA / "dirty.jsonl", tmp_path / "clean.jsonl")
    assert done.returncode == 0
    assert "wrote 6 examples" in done.stdout and "removed line 6: exact duplicate of line 1" in done.stdout
    assert course_lab("data", "check", "--strict", tmp_path / "clean.jsonl").returncode == 0


def test_train_with_a_bad_config_names_the_field_and_exits_2(course_lab, lab_data_dir, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("base: micro\nlora:\n  r: -3\n")
    done = course_lab("train", "--config", config, "--run-dir", tmp_path / "run")
    assert done.returncode == 2
    assert "lora.r should be an integer from 1 to 256, got -3" in done.stderr
    _no_traceback(done)
    unknown = course_lab("train", "--recipe", "nope")
    assert unknown.returncode == 2 and "unknown recipe 'nope'" in unknown.stderr
    usage = course_lab("train")
    assert usage.returncode == 2 and "one of the arguments --recipe --config is required" in usage.stderr


def test_train_with_an_unreachable_hub_id_exits_2_naming_the_offline_options(course_lab, lab_data_dir, tmp_path):
    done = course_lab("train", "--recipe", "legal-format", "--base", "meta-llama/Llama-3.2-1B",
                      "--run-dir", tmp_path / "run", env_extra={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2
    assert "course-lab base build" in done.stderr and "course-lab base import-smollm2" in done.stderr
    _no_traceback(done)
    last = json.loads((tmp_path / "run" / "events.jsonl").read_text().splitlines()[-1])
    assert last["type"] == "error" and "Offline options" in last["message"]


def test_base_build_is_cached_on_the_second_call(course_lab, micro_base):
    done = course_lab("base", "build", "--name", "micro")
    assert done.returncode == 0 and "cached" in done.stdout and str(micro_base) in done.stdout


def test_export_and_eval_without_a_trained_run_exit_2(course_lab, lab_data_dir, tmp_path):
    for args in (("export", "--run-dir", tmp_path, "--format", "adapter"), ("eval", "--run-dir", tmp_path)):
        done = course_lab(*args)
        assert done.returncode == 2 and "no trained adapter" in done.stderr
        _no_traceback(done)


def test_recipes_lists_legal_format(course_lab):
    done = course_lab("recipes")
    assert done.returncode == 0 and "legal-format" in done.stdout


def test_data_check_truncates_at_the_recipes_max_seq_len_unless_told_another_length(course_lab, lab_data_dir):
    file = DATA / "too_long_for_recipe.jsonl"
    default = course_lab("data", "check", "--json", file)  # legal-format's max_seq_len: 256
    rules = {(i["line"], i["rule"]) for i in json.loads(default.stdout)["issues"]}
    assert default.returncode == 1 and {(3, "answer_truncated"), (4, "answer_cut_off")} <= rules
    assert course_lab("data", "check", "--max-length", "2048", file).returncode == 0
