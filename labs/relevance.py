"""Relevance: does an answer address what its question asked about? Two measures, both reported.

Format compliance says nothing about content: a model can number five perfect items about probate when asked
about a landlord. Topic words: each topic of the legal task has its own words (from its subjects, action items and
casual tips, less the words two topics share); an answer belongs to the topic whose words it uses most. Question
match (below) uses no corpus answers: an answer's words must pick out a question on its own practice area among all
held-out questions, with the chance level beside it. Neither judges quality: a relevant answer may still be wrong.
"""

from __future__ import annotations

import math
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


# --- Relevance in the model's own words: which question does this answer? ---
#
# The topic measure above credits only the corpus's words, so a pretrained model that answers a faulty-product
# question about "the manufacturer" and "a refund" scores nothing. The measure below never looks at the corpus's
# answers: it asks whether the answer's words pick out its own question among all the held-out questions.
# Each question becomes a TF-IDF vector over its content words (a word shared by many questions weighs little);
# an answer is matched to the question it is most similar to (cosine), and it counts as relevant when that
# question asks about the same practice area as its own. Matching the exact question would be unfair: several
# held-out questions share a practice area, and a good answer to one is a good answer to the others. The built-in
# control is the chance level: answers paired with questions at random score the share of question pairs that
# share a practice area (`chance`), so a score is only meaningful next to it.

STEM = 5  # words cut to 5 letters: "dismissed"/"dismissal", "faulty"/"fault", "limitation(s)" meet
# The question templates' own words ("worried", "guidance", "client") say how a question is asked, not what about.
TEMPLATE_WORDS = frozenset(w[:STEM] for t in corpus.QUESTION_TEMPLATES for w in _words(t.replace("{x}", " ")))


def _stems(text: str) -> set[str]:
    return {w[:STEM] for w in _words(text)} - TEMPLATE_WORDS


def _question_vectors(prompts: list[str]) -> list[dict[str, float]]:
    """One unit-length TF-IDF vector per question; IDF over these questions (smoothed, so a word in all stays > 0)."""
    docs = [_stems(p) for p in prompts]
    df = Counter(s for d in docs for s in d)
    n = len(docs)
    vectors = []
    for d in docs:
        v = {s: math.log((1 + n) / (1 + df[s])) + 1 for s in d}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors.append({s: x / norm for s, x in v.items()})
    return vectors


def matched_question(answer: str, vectors: list[dict[str, float]]) -> list[int]:
    """The questions (indices) most similar to the answer; several on a tie, none when it shares no word."""
    words = _stems(answer)
    sims = [sum(x for s, x in v.items() if s in words) for v in vectors]
    best = max(sims, default=0.0)
    return [] if best <= 0 else [i for i, s in enumerate(sims) if s == best]


def question_match(answers: list[str], prompts: list[str], topics: list[int]) -> dict[str, float]:
    """{"score", "chance"}: the fraction of answers whose most similar question shares their own question's practice
    area (a tie shares its credit), and the same fraction expected for answers shuffled between the questions."""
    n = len(answers)
    if n == 0:
        return {"score": 0.0, "chance": 0.0}
    vectors = _question_vectors(prompts)
    credit = 0.0
    for answer, topic in zip(answers, topics):
        best = matched_question(answer, vectors)
        credit += sum(topics[j] == topic for j in best) / len(best) if best else 0.0
    same = Counter(topics)
    return {"score": credit / n, "chance": sum(same[t] for t in topics) / (n * n)}
