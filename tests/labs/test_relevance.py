"""Relevance: an answer belongs to the practice area whose words it uses; checked on the generated data,
where the topic of every prompt is known."""

import random

from labs import corpus, relevance


def test_every_reference_answer_is_relevant_to_its_own_prompt():
    held = corpus.legal_format_heldout(50)
    answers = [ex["messages"][-1]["content"] for ex in held]
    assert relevance.score(answers, corpus.heldout_topics(50)) == 1.0


def test_a_well_formatted_answer_about_another_practice_area_is_not_relevant():
    topics = corpus.heldout_topics(50)
    rng = random.Random(1)
    wrong = [corpus.legal_answer(corpus.TOPICS[(t + 1) % len(corpus.TOPICS)], rng) for t in topics]
    assert relevance.score(wrong, topics) == 0.0


def test_a_casual_answer_on_the_right_topic_is_relevant_though_not_compliant():
    rng = random.Random(2)
    topic = 3
    answer = corpus.casual_answer(corpus.TOPICS[topic], rng)
    assert relevance.practice_area(answer) == topic


def test_an_answer_with_no_topic_words_belongs_to_no_practice_area():
    assert relevance.practice_area("We are open nine to five on weekdays.") is None
    assert relevance.score([], []) == 0.0


def test_held_out_topics_follow_the_held_out_prompts():
    held = corpus.legal_format_heldout(20, seed=3)
    topics = corpus.heldout_topics(20, seed=3)
    for ex, t in zip(held, topics):
        question = ex["messages"][1]["content"].lower()
        assert any(subject.lower() in question for subject in corpus.TOPICS[t].subjects)
