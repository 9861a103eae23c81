"""Legal-format training data whose answers address their own question, for the SmolLM2 CPU recipe (issue 11).

The generated legal-format answers (corpus.legal_answer) are per practice area: every question about a demand
letter gets items from the same six, none naming what was asked. Scored against their own questions they reach 77%
question match, yet a pretrained model fine-tuned on 120 of them learns the layout and stops reading the question
(53% -> 42%). Here each answer opens with an item that names the question's subject in the answer's own words
("Collect every document that concerns a refund for a broken laptop."), sometimes closes with another, and keeps
the practice area's formal items between them: the model learns to answer *this* question in the format.
Everyday exchanges answered plainly under the friendly system prompts (corpus.general_examples) are mixed in so the
format stays with the legal system prompt. Same question split as the corpus: held-out questions never appear.

`python -m labs.specific_data` rewrites the committed file the recipe trains on (labs/samples/, see SAMPLE).
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from labs import corpus

SAMPLE = Path(__file__).parent / "samples" / "legal-format-specific.jsonl"
LEGAL, GENERAL = 120, 40  # legal-format-smollm2-cpu trains on the first 120 (30 steps x 4: 91 legal, 29 plain)
# Formal, British, no contractions: the four checks hold for every answer (tests/labs/test_specific_data.py).
OPENERS = (
    "Collect every document that concerns {x}.",
    "Make a dated written note of the facts of {x}.",
    "Keep a record of all correspondence about {x}.",
    "Set out in writing what has happened regarding {x}.",
)
CLOSERS = (
    "Arrange a consultation with us about {x}.",
    "Send us copies of the papers concerning {x}.",
)
# The questions speak for the client ("my landlord"); the answer speaks to them ("your landlord").
SECOND_PERSON = {"my": "your", "our": "your", "i": "you", "me": "you", "we": "you", "am": "are"}


def _to_you(subject: str) -> str:
    return re.sub(r"\b(my|our|I|me|we|am)\b", lambda m: SECOND_PERSON[m.group(1).lower()], subject)


def _subjects() -> dict[str, tuple[int, str]]:
    """Each question the templates make -> (topic index, the subject it asks about)."""
    out = {}
    for t, topic in enumerate(corpus.TOPICS):
        for subject in topic.subjects:
            for template in corpus.QUESTION_TEMPLATES:
                q = template.format(x=subject)
                out[q[0].upper() + q[1:]] = (t, subject)
    return out


def specific_answer(topic: corpus.Topic, subject: str, rng: random.Random) -> str:
    """An opener naming the subject, 2-3 of the topic's items in order, a closer naming it half the time; 4-5
    numbered items, then the footer."""
    x = _to_you(subject)
    closer = rng.random() < 0.5
    middle = sorted(rng.sample(range(len(topic.actions)), 3 if not closer else rng.randint(2, 3)))
    items = [rng.choice(OPENERS).format(x=x)] + [topic.actions[i] for i in middle]
    if closer:
        items.append(rng.choice(CLOSERS).format(x=x))
    return "\n".join(f"{n}. {item}" for n, item in enumerate(items, start=1)) + "\n\n" + corpus.FOOTER


def specific_examples(n_legal: int = LEGAL, n_general: int = GENERAL, seed: int = 0, heldout: int = 50) -> list[dict]:
    """`n_legal` legal examples from the training questions, answers naming their subject, shuffled together with
    `n_general` plain everyday exchanges."""
    train_q, _ = corpus.split_questions(seed, heldout)
    subjects = _subjects()
    rng = random.Random(f"legal-specific-{seed}")
    chosen = rng.sample(train_q, min(n_legal, len(train_q)))
    examples = []
    for t, q in chosen:
        topic, subject = corpus.TOPICS[t], subjects[q][1]
        examples.append({"messages": [{"role": "system", "content": corpus.LEGAL_SYSTEM},
                                      {"role": "user", "content": q},
                                      {"role": "assistant", "content": specific_answer(topic, subject, rng)}]})
    return corpus.mix_in_general(examples, n_general, seed)


def write_sample(path: Path = SAMPLE) -> int:
    rows = specific_examples()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)


if __name__ == "__main__":
    n = write_sample(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE)
    print(f"wrote {n} examples")
