"""The SmolLM2 CPU recipe's training file: answers that name their question's subject, in the legal format, next
to plain everyday exchanges; the committed file is exactly what the generator writes."""

import json

from labs import corpus, relevance
from labs.data import check_file
from labs.evaluate import check_response, leaks_format
from labs.specific_data import GENERAL, LEGAL, SAMPLE, specific_examples, write_sample


def _legal(rows):
    return [r for r in rows if r["messages"][0]["content"] == corpus.LEGAL_SYSTEM]


def test_the_committed_file_is_what_the_generator_writes(tmp_path):
    assert write_sample(tmp_path / "fresh.jsonl") == LEGAL + GENERAL
    assert (tmp_path / "fresh.jsonl").read_text(encoding="utf-8") == SAMPLE.read_text(encoding="utf-8")
    assert check_file(SAMPLE).usable


def test_every_legal_answer_passes_the_four_checks_and_every_general_one_is_plain():
    rows = specific_examples()
    legal = _legal(rows)
    assert len(legal) == LEGAL and len(rows) - len(legal) == GENERAL
    assert all(check_response(r["messages"][2]["content"])["compliant"] for r in legal)
    assert not any(leaks_format(r["messages"][2]["content"]) for r in rows if r not in legal)


def test_no_held_out_question_is_trained_on():
    _, held = corpus.split_questions(0, 50)
    asked = {r["messages"][1]["content"] for r in specific_examples()}
    assert asked.isdisjoint(q for _, q in held)


def test_answers_name_their_subject_and_point_at_their_own_question_more_than_the_generic_ones():
    """Question match of the training answers against their own questions: the generic per-area answers score
    77%; naming the subject lifts it, while shuffled answers stay near chance."""
    topic_of = {q: t for t, q in corpus.all_questions()}

    def match(rows):
        prompts = [r["messages"][1]["content"] for r in rows]
        return relevance.question_match([r["messages"][2]["content"] for r in rows], prompts,
                                        [topic_of[p] for p in prompts])

    specific = _legal(specific_examples())
    generic = match(corpus.legal_format_examples(LEGAL, 0, heldout=50))["score"]
    assert match(specific)["score"] >= 0.95 > generic
    assert "your neighbour" in json.dumps(specific) and " my " not in " ".join(
        r["messages"][2]["content"] for r in specific)  # spoken to the client: "my landlord" -> "your landlord"
    shuffled = [{"messages": [*a["messages"][:2], b["messages"][2]]} for a, b in zip(specific, specific[1:] + specific[:1])]
    assert match(shuffled)["score"] < 0.3
