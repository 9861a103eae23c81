"""`labs.data`: each broken rule has its own fixture file and its own message naming the line; clean removes and
repairs what it reports. The CLI's exit codes for the same files are in test_cli.py.
"""

import json
from pathlib import Path

import pytest

from labs import corpus
from labs.data import check_file, clean_file, format_report

DATA = Path(__file__).parent / "fixtures" / "chats"

# fixture -> (rule, line, words the message must contain); the broken line is line 3 unless the rule is file-wide
ERRORS = {
    "invalid_json": ("invalid_json", 3, "not valid JSON"),
    "not_an_object": ("not_an_object", 3, "expected a JSON object"),
    "missing_messages": ("missing_messages", 3, 'no "messages" key'),
    "messages_not_list": ("messages_not_list", 3, "should be a non-empty list"),
    "message_not_object": ("message_not_object", 3, "message 2 should be an object"),
    "unknown_role": ("unknown_role", 3, 'role "bot"'),
    "missing_content": ("missing_content", 3, "message 2 (assistant) has no content"),
    "non_string_content": ("non_string_content", 3, "content should be a string, got a list"),
    "empty_content": ("empty_content", 3, "has empty content: an empty answer teaches the model to stop at once"),
    "unknown_message_key": ("unknown_message_key", 3, 'unknown key "weight"'),
    "tool_call": ("tool_call", 3, "tool-call messages are not supported"),
    "role_order": ("role_order", 3, "message 3 is assistant but user was expected"),
    "no_assistant": ("no_assistant", 3, "no assistant message"),
    "not_utf8": ("not_utf8", 3, "not UTF-8"),
    "empty_file": ("empty_file", None, "no examples"),
}
WARNINGS = {
    "exact_duplicate": ("exact_duplicate", 3, "exact duplicate of line 1"),
    "near_duplicate": ("near_duplicate", 3, "near duplicate of line 1 (Jaccard"),
    "inconsistent_footer": ("inconsistent_footer", None, "lines 3 do not"),
    "inconsistent_numbering": ("inconsistent_numbering", None, "lines 3 are not"),
    "label_imbalance": ("label_imbalance", None, '"billing" 9 vs "technical" 1'),
    "degenerate_answer": ("degenerate_answer", 3, 'repeats the line "2. Contact the solicitor immediately." 6 times'),
    "inconsistent_system_prompt": ("inconsistent_system_prompt", None, "but line 3 has none"),
    "trailing_user": ("trailing_user", 3, "the last message (4) is a user turn with no answer"),
}


def test_the_good_file_is_usable_with_no_findings():
    report = check_file(DATA / "good.jsonl")
    assert report.usable and report.examples == 5
    assert [i for i in report.issues if i.severity != "note"] == []
    assert report.stats["total_tokens"] > 0 and report.stats["estimated_cost"]["training_tokens"] > 0


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_each_broken_rule_is_an_error_with_its_own_message_and_line(name):
    rule, line, words = ERRORS[name]
    report = check_file(DATA / f"{name}.jsonl")
    assert not report.usable
    hits = [i for i in report.errors if i.rule == rule]
    assert hits, format_report(report)
    assert hits[0].line == line
    assert words in hits[0].message
    if line is not None:
        assert hits[0].message.startswith(f"line {line}: ")
    assert {i.rule for i in report.errors} == {rule}  # the other lines are fine


@pytest.mark.parametrize("name", sorted(WARNINGS))
def test_each_checklist_finding_is_a_warning_that_keeps_the_file_usable(name):
    rule, line, words = WARNINGS[name]
    report = check_file(DATA / f"{name}.jsonl")
    assert report.usable
    hits = [i for i in report.warnings if i.rule == rule]
    assert hits, format_report(report)
    assert hits[0].line == line and words in hits[0].message
    assert {i.rule for i in report.warnings} == {rule}


def test_the_token_limit_is_checked_against_the_given_maximum():
    report = check_file(DATA / "too_long.jsonl", max_tokens=512)
    hits = [i for i in report.errors if i.rule == "too_long"]
    assert [i.line for i in hits] == [3] and "more than the limit of 512" in hits[0].message
    assert check_file(DATA / "too_long.jsonl").usable  # no limit given


def test_an_example_over_max_seq_len_says_what_truncation_will_cost_its_answer():
    report = check_file(DATA / "too_long_for_recipe.jsonl", max_length=256)
    found = {i.line: i for i in report.issues if i.rule in ("answer_truncated", "answer_cut_off")}
    assert sorted(found) == [3, 4] and not report.usable
    partly, wholly = found[3], found[4]
    assert partly.severity == "warning" and "over max_seq_len 256" in partly.message
    assert "drops the answer's last" in partly.message and "stop mid-way" in partly.message
    assert wholly.severity == "error" and "none of it would be learned" in wholly.message
    tokens = [int(i.message.split("about ")[1].split()[0]) for i in (partly, wholly)]
    assert 256 < tokens[0] < tokens[1]
    assert check_file(DATA / "too_long_for_recipe.jsonl", max_length=1024).usable  # a longer window keeps both


def test_a_phrase_looping_back_to_back_is_degenerate_but_a_list_with_shared_wording_is_not(tmp_path):
    rows = json.loads((DATA / "good.jsonl").read_text().splitlines()[0])
    looped = json.loads(json.dumps(rows))
    looped["messages"][-1]["content"] = "1. Please wait. " + "I am unable to help. " * 5
    listed = json.loads(json.dumps(rows))
    listed["messages"][-1]["content"] = "\n".join(f"{n}. Review clause {n} of the lease with the agent." for n in
                                                   range(1, 8))
    path = tmp_path / "loops.jsonl"
    path.write_text(json.dumps(looped) + "\n" + json.dumps(listed) + "\n")
    hits = [i for i in check_file(path).issues if i.rule == "degenerate_answer"]
    assert [i.line for i in hits] == [1]
    assert '"i am unable to help." 5 times in a row' in hits[0].message


def test_several_different_system_prompts_with_no_majority_are_only_a_note(tmp_path):
    base = json.loads((DATA / "good.jsonl").read_text().splitlines()[0])
    lines = []
    for n in range(4):
        row = json.loads(json.dumps(base))
        row["messages"][0]["content"] = f"You are persona number {n}."
        row["messages"][1]["content"] += f" (case {n} of a series about wholly different matters {n * 7})"
        lines.append(json.dumps(row))
    path = tmp_path / "personas.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = check_file(path)
    assert [i.severity for i in report.issues if "system_prompt" in i.rule] == ["note"]


def test_near_duplicates_use_the_threshold_that_the_report_shows():
    strict = check_file(DATA / "near_duplicate.jsonl", near_threshold=0.95)
    assert not [i for i in strict.issues if i.rule == "near_duplicate"]
    assert strict.stats["near_duplicate_threshold"] == 0.95
    assert "Jaccard threshold 0.95" in format_report(strict)


def test_labels_and_lengths_are_reported_in_the_stats():
    report = check_file(DATA / "label_imbalance.jsonl")
    assert report.stats["labels"] == {"source": "assistant answer", "counts": {"billing": 9, "technical": 1}}
    length = check_file(DATA / "good.jsonl").stats["length"]
    assert length["answer_tokens_min"] <= length["answer_tokens_median"] <= length["answer_tokens_max"]
    assert sum(length["buckets"].values()) == 5


def test_the_generated_legal_format_data_passes_its_own_checklist(tmp_path):
    path = tmp_path / "legal.jsonl"
    path.write_text("".join(json.dumps(ex) + "\n" for ex in corpus.legal_format_examples(200)))
    report = check_file(path, max_length=256)
    assert report.usable and not report.warnings, format_report(report)


def test_clean_removes_broken_and_duplicate_lines_and_repairs_capitalised_roles(tmp_path):
    out = tmp_path / "clean.jsonl"
    result = clean_file(DATA / "dirty.jsonl", out)
    removed = {row["line"]: row["reason"] for row in result["removed"]}
    assert set(removed) == {6, 7, 8}
    assert "exact duplicate" in removed[6] and "near duplicate" in removed[7] and "not valid JSON" in removed[8]
    assert result["kept"] == 6 and result["repaired"] == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[-1]["messages"][0]["role"] == "system"
    assert rows[-1]["messages"][1] == {"role": "user", "content": "A fence moved."}
    report = check_file(out)
    assert report.usable and not report.warnings
