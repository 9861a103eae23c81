"""The synthetic corpus and task data: deterministic, held-out prompts kept apart, the target format checkable.

No model needed; these run in milliseconds.
"""

from labs import corpus
from labs.evaluate import check_response


def test_the_same_seed_gives_the_same_examples_and_another_seed_does_not():
    assert corpus.legal_format_examples(20, seed=0) == corpus.legal_format_examples(20, seed=0)
    assert corpus.legal_format_examples(20, seed=0) != corpus.legal_format_examples(20, seed=1)
    docs = corpus.pretraining_documents(50, 20, 10, seed=3)
    assert docs == corpus.pretraining_documents(50, 20, 10, seed=3)


def test_heldout_questions_never_appear_in_training_or_pretraining_data():
    held = {ex["messages"][1]["content"] for ex in corpus.legal_format_heldout(50)}
    train = {ex["messages"][1]["content"] for ex in corpus.legal_format_examples(400)}
    pretrain = {d["messages"][1]["content"] for d in corpus.pretraining_documents(3000, 0, 0) if isinstance(d, dict)}
    assert len(held) == 50
    assert not held & train
    assert not held & pretrain


def test_every_training_answer_passes_every_compliance_check():
    for ex in corpus.legal_format_examples(200):
        assert check_response(ex["messages"][-1]["content"])["compliant"], ex


def test_the_pretraining_chats_are_casual_so_the_base_starts_non_compliant():
    chats = [d for d in corpus.pretraining_documents(300, 0, 0) if isinstance(d, dict)]
    compliant = [d for d in chats if check_response(d["messages"][-1]["content"])["compliant"]]
    assert chats and not compliant


def test_articles_carry_the_pieces_numbered_lines_and_footers():
    articles = [d for d in corpus.pretraining_documents(0, 200, 0) if isinstance(d, str)]
    assert all("\n1. " in a and "does not constitute legal advice" in a for a in articles)
    assert any(corpus.FOOTER in a for a in articles)


def test_the_mixed_recipes_general_exchanges_are_plain_and_never_the_regression_questions():
    from labs.evaluate import leaks_format

    general = corpus.general_examples(80)
    asked = {ex["messages"][-1]["content"] for ex in corpus.regression_prompts(24)}
    assert len(general) == 80
    for ex in general:
        system, user, answer = (m["content"] for m in ex["messages"])
        assert system in corpus.FRIENDLY_SYSTEMS and user not in asked
        assert not leaks_format(answer)


def test_mixing_in_general_exchanges_keeps_every_task_example():
    task = corpus.legal_format_examples(30)
    mixed = corpus.mix_in_general(task, 10)
    assert len(mixed) == 40 and all(ex in mixed for ex in task)
    assert corpus.mix_in_general(task, 0) == task


def test_without_heldout_prompts_drops_held_questions_ignoring_case_and_spacing():
    _, held = corpus.split_questions(3, 50)
    trained, _ = corpus.split_questions(3, 50)
    def example(question):
        return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": "a"}]}
    rows = [example(trained[0][1]), example("  " + held[0][1].upper().replace(" ", "   ") + "\n"), example(held[1][1])]
    kept, left_out = corpus.without_heldout_prompts(rows, seed=3)
    assert (kept, left_out) == ([rows[0]], 2)
