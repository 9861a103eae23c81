"""Chapter 5's base-vs-fine-tuned table: rendered from a real run's evaluation, written between its marker lines,
and present (with its markers invisible) in the committed chapter.
"""

import json
import shutil

import pytest

from labs import compare_table


def test_the_table_is_rendered_from_a_real_runs_evaluation(short_run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(short_run[0], run_dir)
    assert compare_table.main(["--run-dir", str(run_dir), "--reuse", "--dry-run"]) == 0
    table = capsys.readouterr().out
    assert "| Held-out prompt | Base answer | Compliant | Fine-tuned answer | Compliant |" in table
    task_rows = table.split("| General prompt |")[0].count("\n| ") - 1  # minus the header row
    assert task_rows == 2, "eval.side_by_side=2 in the short run"
    assert "| General prompt | Base answer | Format leaked |" in table
    assert "seed 0, 80 steps" in table
    report = json.loads((run_dir / "eval.json").read_text())  # the figures the table was rendered from
    assert (f"question match (chance {report['relevance_chance']:.0%}): {report['relevance_match_before']:.0%} "
            f"before, {report['relevance_match_after']:.0%} after; topic words: {report['relevance_before']:.0%} "
            f"before, {report['relevance_after']:.0%} after.") in table


def test_writing_replaces_only_what_lies_between_the_markers(tmp_path):
    chapter = tmp_path / "05.md"
    chapter.write_text(f"before\n\n{compare_table.START}\n\nold table\n\n{compare_table.END}\n\nafter\n")
    compare_table.write_into_chapter("| new | table |", chapter)
    compare_table.write_into_chapter("| newer | table |", chapter)  # idempotent: the markers survive
    text = chapter.read_text()
    assert "old table" not in text and "| new |" not in text
    assert text == f"before\n\n{compare_table.START}\n\n| newer | table |\n\n{compare_table.END}\n\nafter\n"


def test_a_chapter_without_the_markers_is_refused_and_left_alone(tmp_path):
    chapter = tmp_path / "05.md"
    chapter.write_text("no markers here\n")
    with pytest.raises(SystemExit, match="marker lines"):
        compare_table.write_into_chapter("| t |", chapter)
    assert chapter.read_text() == "no markers here\n"


def test_chapter_5_holds_a_generated_table_whose_markers_do_not_show_on_the_page():
    from markdown_it import MarkdownIt

    text = compare_table.CHAPTER.read_text(encoding="utf-8")
    block = compare_table.BLOCK.search(text)
    assert block and "| Held-out prompt |" in block.group(0) and "Greedy compliance on" in block.group(0)
    html = MarkdownIt("commonmark").enable("table").render(text.split("\n---\n", 1)[1])
    assert "base-vs-fine-tuned" not in html and "<table>" in html


def test_a_long_answer_keeps_its_last_line_and_shows_markdown_literally():
    answer = "1. " + "Do this. " * 60 + "\n*This response does not constitute legal advice.*"
    cell = compare_table._cell(answer)
    assert len(cell) < 320 and " … " in cell
    assert cell.endswith(r"\*This response does not constitute legal advice.\*")
    assert compare_table._cell("a | b") == r"a \| b"
