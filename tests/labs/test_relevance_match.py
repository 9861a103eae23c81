"""Relevance by question match: an answer is relevant when the held-out question its words are closest to asks about
its own question's practice area. Checked against its controls: the reference answers score far above chance,
the same answers shuffled between the questions score chance, and words the corpus never uses still count."""

import random

import pytest

from labs import corpus, relevance


def heldout(n: int, seed: int = 0) -> tuple[list[str], list[str], list[int]]:
    held = corpus.legal_format_heldout(n, seed)
    prompts = [ex["messages"][1]["content"] for ex in held]
    references = [ex["messages"][-1]["content"] for ex in held]
    return prompts, references, corpus.heldout_topics(n, seed)


@pytest.mark.parametrize("n", [30, 50])
def test_reference_answers_match_their_practice_area_far_above_chance(n):
    prompts, references, topics = heldout(n)
    result = relevance.question_match(references, prompts, topics)
    # The references are written per practice area, not per question, so some share no word with theirs.
    assert result["score"] >= 0.6
    assert result["score"] >= 5 * result["chance"]


@pytest.mark.parametrize("n", [30, 50])
def test_answers_shuffled_between_questions_score_near_chance(n):
    prompts, references, topics = heldout(n)
    chance = relevance.question_match(references, prompts, topics)["chance"]
    scores = [relevance.question_match(random.Random(s).sample(references, n), prompts, topics)["score"]
              for s in range(40)]
    assert abs(sum(scores) / len(scores) - chance) < 0.04


def test_an_answer_in_its_own_words_counts_where_the_topic_words_see_nothing():
    prompts, _, topics = heldout(30)
    i = next(i for i, p in enumerate(prompts) if "faulty product" in p)
    answer = "Sorry to hear that. Keep the faulty item and the receipt, and ask whoever sold it for a refund."
    answers = [answer if j == i else "" for j in range(len(prompts))]
    assert relevance.practice_area(answer) is None
    assert relevance.question_match(answers, prompts, topics)["score"] == pytest.approx(1 / len(prompts))


def test_a_polite_answer_about_nothing_is_not_relevant():
    prompts, _, topics = heldout(30)
    answers = ["I'm sorry for any inconvenience. I'm here to assist you with any questions you may have."] * 30
    assert relevance.question_match(answers, prompts, topics)["score"] == 0.0


def test_how_a_question_is_asked_does_not_count_as_what_it_is_about():
    prompts, _, topics = heldout(30)
    # Only template words ("worried", "guidance", "next steps", "client"): no practice area at all.
    answers = ["Our client is worried and needs guidance on the next steps. What now?"] * 30
    assert relevance.question_match(answers, prompts, topics)["score"] == 0.0


def test_answers_that_restate_their_question_are_all_relevant():
    prompts, _, topics = heldout(50, seed=3)
    assert relevance.question_match(prompts, prompts, topics)["score"] == 1.0


def test_chance_is_the_share_of_question_pairs_on_one_practice_area():
    assert relevance.question_match(["a"] * 4, ["q"] * 4, [0, 1, 2, 3])["chance"] == 0.25
    assert relevance.question_match(["a"] * 4, ["q"] * 4, [5, 5, 5, 5])["chance"] == 1.0
    assert relevance.question_match([], [], []) == {"score": 0.0, "chance": 0.0}


def test_a_tie_between_questions_shares_its_credit():
    prompts = ["A landlord kept my deposit.", "A landlord kept my deposit.", "A boundary fence moved."]
    result = relevance.question_match(["Ask the landlord for the deposit back."] * 3, prompts, [0, 1, 2])
    # Every answer ties between questions 0 and 1: the first two get half credit each, the third none.
    assert result["score"] == pytest.approx((0.5 + 0.5 + 0) / 3)


def test_every_report_carries_both_relevance_measures_and_the_chance_level():
    from labs.metrics import compliance_summary

    def result(topic_words: float, match: float) -> dict:
        scored = {"compliance": 0.5, "checks": {}, "n": 30}
        return {"greedy": scored, "sampled": scored, "format_leak": 0.0, "relevance": topic_words,
                "relevance_match": {"score": match, "chance": 0.1}, "outputs": {"regression": []}}

    summary = compliance_summary(result(0.37, 0.2), result(0.2, 0.5))
    assert (summary["relevance_before"], summary["relevance_after"]) == (0.37, 0.2)
    assert (summary["relevance_match_before"], summary["relevance_match_after"]) == (0.2, 0.5)
    assert summary["relevance_chance"] == 0.1
