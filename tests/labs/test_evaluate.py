"""The compliance checks are real regular expressions: each accepts the target format and rejects near misses.

Generation-based evaluation is covered by the training and export tests.
"""

import pytest

from labs import corpus
from labs.evaluate import check_response, leaks_format, score

GOOD = ("1. Acknowledge receipt of the letter within five business days.\n"
        "2. Authorise us to respond on your behalf.\n\n" + corpus.FOOTER)


def test_a_compliant_answer_passes_all_four_checks():
    assert check_response(GOOD) == {"numbered_items": True, "disclaimer_footer": True, "british_spelling": True,
                                    "formal_register": True, "compliant": True}


@pytest.mark.parametrize("text, failing", [
    (GOOD.replace("2. ", "3. "), "numbered_items"),  # numbering skips
    (GOOD.replace("2. ", "- "), "numbered_items"),  # a bullet among numbers
    ("1. Only one item.\n\n" + corpus.FOOTER, "numbered_items"),
    ("Here is my advice.\n1. Act.\n2. Wait.\n\n" + corpus.FOOTER, "numbered_items"),  # prose before the list
    (GOOD.replace("1. ", "1) ").replace("2. ", "2) "), "numbered_items"),
    (GOOD.replace("\n\n" + corpus.FOOTER, ""), "disclaimer_footer"),
    (GOOD.replace(corpus.FOOTER, "*This article does not constitute legal advice.*"), "disclaimer_footer"),
    (GOOD.replace("\n\n*", "\n*"), "disclaimer_footer"),  # no blank line before it
    (GOOD.replace("Authorise", "Authorize"), "british_spelling"),
    (GOOD.replace("letter", "center"), "british_spelling"),
    (GOOD.replace("Authorise us", "Don't wait, authorise us"), "formal_register"),
    (GOOD.replace("days.", "days!"), "formal_register"),
    (GOOD.replace("Acknowledge", "Hey, acknowledge"), "formal_register"),
])
def test_each_near_miss_fails_exactly_its_own_check(text, failing):
    result = check_response(text)
    assert result[failing] is False
    assert result["compliant"] is False
    assert all(result[name] for name in ("numbered_items", "disclaimer_footer", "british_spelling",
                                         "formal_register") if name != failing)


def test_a_footer_given_twice_is_not_the_fixed_footer():
    assert not check_response(GOOD + "\n" + corpus.FOOTER)["disclaimer_footer"]


def test_possessives_are_formal_but_contractions_are_not():
    assert check_response(GOOD.replace("the letter", "the client's letter"))["formal_register"]
    assert not check_response(GOOD.replace("the letter", "the letter, it's urgent,"))["formal_register"]


def test_score_reports_the_fraction_per_check_and_overall():
    result = score([GOOD, GOOD.replace("Authorise", "Authorize"), "Hey! Sure thing."])
    assert result["n"] == 3
    assert result["compliance"] == pytest.approx(1 / 3)
    assert result["checks"]["british_spelling"] == pytest.approx(2 / 3)
    assert result["checks"]["numbered_items"] == pytest.approx(2 / 3)


def test_the_legal_format_leaking_into_a_casual_answer_is_detected():
    assert leaks_format(GOOD)
    assert leaks_format("Sure!\n\n" + corpus.FOOTER)
    assert not leaks_format("We're open 9 to 5, Monday to Friday!")
