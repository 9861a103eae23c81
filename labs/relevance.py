"""Relevance: does an answer address the practice area its question asked about?

Format compliance says nothing about content: a model can number five perfect items about probate when asked
about a landlord. Each topic of the legal task has its own words (from its subjects, action items and casual
tips, less the words two topics share); an answer belongs to the topic whose words it uses most, and it is
relevant when that is the prompt's topic. Not a judge of quality: a relevant answer may still be wrong.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from labs import corpus

WORD = re.compile(r"[a-z]+")
MIN_HITS = 2  # one shared word ("five", "letter") is chance; two of a topic's own words are a subject
# Words too common to say anything about a practice area.
STOPWORDS = frozenset(
    "a an and any are as at be been before by can do for from have i if in is it its me my of on or our "
    "the their them there they this to us we what when where which who will with you your not that all "
    "after about should so just one more than get got".split())


def _words(text: str) -> set[str]:
    return {w for w in WORD.findall(text.lower()) if len(w) > 2 and w not in STOPWORDS}


@lru_cache(maxsize=1)
def topic_vocabularies() -> tuple[frozenset[str], ...]:
    """Each topic's distinctive words: used by its texts, and by no other topic's."""
    raw = [_words(" ".join((t.name, *t.subjects, *t.actions, *t.tips))) for t in corpus.TOPICS]
    seen = Counter(w for vocab in raw for w in vocab)
    return tuple(frozenset(w for w in vocab if seen[w] == 1) for vocab in raw)


def practice_area(text: str) -> int | None:
    """The topic (index into corpus.TOPICS) whose words the text uses most; None below MIN_HITS or on a tie."""
    words = _words(text)
    hits = [len(words & vocab) for vocab in topic_vocabularies()]
    best = max(hits)
    if best < MIN_HITS or hits.count(best) > 1:
        return None
    return hits.index(best)


def score(answers: list[str], topics: list[int]) -> float:
    """The fraction of answers (0-1) whose practice area is the one their prompt asked about."""
    if not answers:
        return 0.0
    return sum(practice_area(a) == t for a, t in zip(answers, topics)) / len(answers)
