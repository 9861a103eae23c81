"""Property tests for the chat-JSONL checker: arbitrary bytes and arbitrary JSON lines always give a
report (never an exception), one a JSON encoder can write; and the CLI answers the worst lines with a
report and exit code 1, never a crash with no output."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labs.data import check_file, clean_file

# A check costs about 0.1 s (the near-duplicate index): example counts are sized for CI's time budget.
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
GOOD_LINE = {"messages": [{"role": "user", "content": "Where is my order?"},
                          {"role": "assistant", "content": "It ships today."}]}
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["user", "assistant", "system", "tool", "USER", "messages", "content", "role"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["messages", "role", "content", "label", "tool_calls", "x"]) | st.text(max_size=8),
        children, max_size=4),
    max_leaves=25,
)


def _assert_reports(path) -> dict:
    report = check_file(path).to_dict()
    json.dumps(report)  # writable as the CLI's --json output
    if not report["usable"]:
        assert report["errors"] >= 1
    for issue in report["issues"]:
        assert len(issue["message"]) < 500, issue
    return report


@SETTINGS
@given(st.binary(max_size=2_000))
def test_any_bytes_give_a_report(tmp_path, content):
    path = tmp_path / "any.jsonl"
    path.write_bytes(content)
    _assert_reports(path)


@settings(SETTINGS, max_examples=40)
@given(st.lists(JSON_VALUES, min_size=1, max_size=6))
def test_any_json_lines_give_a_report_and_clean_keeps_only_usable_lines(tmp_path, values):
    path = tmp_path / "lines.jsonl"
    path.write_text("\n".join(json.dumps(v) for v in [GOOD_LINE, *values]) + "\n")
    _assert_reports(path)
    cleaned = clean_file(path, tmp_path / "clean.jsonl")
    if cleaned["kept"]:
        assert check_file(tmp_path / "clean.jsonl").usable


def test_the_cli_reports_deep_nesting_and_huge_numbers_with_exit_1(course_lab, tmp_path):
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join([
        '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"messages": [{"role": "user", "content": "hi"}], "label": ' + "9" * 5000 + "}",
        '{"messages": [{"role": ' + "[" * 900 + "]" * 900 + ', "content": "x"}]}',
        json.dumps(GOOD_LINE),
    ]) + "\n")
    done = course_lab("data", "check", "--json", path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [issue["line"] for issue in report["issues"] if issue["severity"] == "error"][:3] == [1, 2, 3]
    assert "too deeply nested or with a number too long" in report["issues"][0]["message"]
