"""Synthetic text for the offline labs: the pretraining corpus of the tiny base and the legal-format task data.

Chapter 0's story needs a model that already knows the pieces (legal topics, numbered lists, disclaimer-style
footers) but answers chats casually; fine-tuning then teaches the format. Everything is templated and
deterministic for a seed: no downloads, no real client data. Not the place for tokenising or training.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

LEGAL_SYSTEM = (
    "You are a legal document assistant. Always respond with numbered action items in formal British English."
)
FOOTER = "*This response does not constitute legal advice.*"
FRIENDLY_SYSTEMS = (
    "You are a friendly support assistant for Harlow & Finch, a law firm.",
    "You help visitors of the Harlow & Finch website.",
    "You are a helpful receptionist. Keep it short and warm.",
)


@dataclass(frozen=True)
class Topic:
    name: str  # help-centre article title
    subjects: tuple[str, ...]  # fills the {x} of a question template
    actions: tuple[str, ...]  # formal, British-spelling action items, in a sensible order
    tips: tuple[str, ...]  # casual advice, American spelling, contractions: the base's chat prior


TOPICS: tuple[Topic, ...] = (
    Topic(
        "Responding to a demand letter",
        ("a demand letter", "a demand letter from a supplier", "a letter demanding payment",
         "a demand letter from a former landlord", "a solicitor's letter demanding money"),
        ("Acknowledge receipt of the demand letter within five business days.",
         "Refrain from any communication with the opposing party.",
         "Obtain and review all documentation referenced in the letter.",
         "Record the deadline stated in the letter and diarise a reminder.",
         "Schedule a consultation to assess merit and exposure.",
         "Authorise us to respond on your behalf in writing."),
        ("don't panic, these letters sound scarier than they are", "just send us a photo of the letter",
         "you'll probably have a couple of weeks to reply", "we can organize a quick call to go over it"),
    ),
    Topic(
        "Limitation periods for breach of contract",
        ("the statute of limitations for breach of contract", "how long I have to sue over a contract",
         "a contract claim that is several years old", "time limits for a contract dispute"),
        ("Determine the jurisdiction in which the contract was formed and is to be performed.",
         "Identify whether the contract is written or oral, as limitation periods differ.",
         "Note that most jurisdictions impose a six-year limitation for simple contracts.",
         "Establish the date on which the breach occurred.",
         "Consult the relevant statutes for any exceptions or extensions.",
         "Preserve all correspondence relating to the agreement."),
        ("it's usually a few years but it depends", "don't wait too long though",
         "send over the contract and we'll take a look", "honestly it's worth checking the dates asap"),
    ),
    Topic(
        "Disputes with a landlord",
        ("a dispute with my landlord", "a landlord who will not return my deposit", "an eviction notice",
         "a landlord refusing to carry out repairs", "a rent increase I think is unfair"),
        ("Locate the tenancy agreement and any inventory reports.",
         "Confirm whether the deposit was placed in a protection scheme.",
         "Set out the complaint to the landlord in writing.",
         "Photograph the condition of the property and date each image.",
         "Keep a record of all rent payments made.",
         "Seek a formal review before the notice period expires."),
        ("landlords can be a real pain", "take lots of pictures of the place", "don't stop paying rent yet",
         "we can help you figure out your options"),
    ),
    Topic(
        "Unfair dismissal claims",
        ("being dismissed from my job", "an unfair dismissal", "my employer firing me without warning",
         "a dismissal after raising a grievance", "losing my job during a restructure"),
        ("Request written reasons for the dismissal from your employer.",
         "Gather your contract of employment and any disciplinary correspondence.",
         "Note that a claim must usually begin within three months less one day.",
         "Contact the conciliation service before issuing any claim.",
         "Prepare a timeline of the events leading to the dismissal.",
         "Retain copies of payslips and performance reviews."),
        ("sorry, that's rough", "write down everything you remember", "don't sign anything yet",
         "there are tight deadlines so let's move fast"),
    ),
    Topic(
        "Making a will",
        ("making a will", "updating my will", "writing a will after getting married",
         "who should be the executor of my will", "leaving my house to my children"),
        ("List your assets, including property, savings and pensions.",
         "Decide whom you wish to appoint as executors.",
         "Consider guardianship arrangements for any minor children.",
         "Arrange for two independent witnesses to attend the signing.",
         "Store the original will in a secure location.",
         "Review the will after any major change in circumstances."),
        ("it's easier than you'd think", "grab a list of what you own", "pick someone you trust",
         "we can usually get it done in one visit"),
    ),
    Topic(
        "Probate and estate administration",
        ("probate after a parent died", "dealing with an estate", "being named an executor",
         "sorting out a relative's estate", "applying for probate"),
        ("Obtain several certified copies of the death certificate.",
         "Locate the original will and confirm the named executors.",
         "Value the estate as at the date of death.",
         "Apply for the grant of probate once any tax forms are submitted.",
         "Notify banks, insurers and pension providers in writing.",
         "Settle outstanding debts before distributing the estate."),
        ("so sorry for your loss", "there's no rush for the first few weeks",
         "gather the paperwork when you're ready", "we'll walk you through it"),
    ),
    Topic(
        "Data protection requests",
        ("a data subject access request", "a company holding my personal data", "a data breach at my company",
         "a customer asking for all the data we hold", "a request to delete my data"),
        ("Log the date on which the request was received.",
         "Verify the identity of the person making the request.",
         "Note that a response is normally due within one calendar month.",
         "Search all systems in which personal data may be held.",
         "Redact information relating to third parties.",
         "Document the decision and the reasons for it."),
        ("these requests are pretty common", "you've got about a month", "don't ignore it",
         "we can help you organize the response"),
    ),
    Topic(
        "Protecting a trade mark",
        ("protecting my brand name", "someone copying our logo", "registering a trade mark",
         "a competitor using a similar name", "a licence to use our trade mark"),
        ("Search the register for existing marks that may conflict.",
         "Identify the classes of goods and services to be covered.",
         "Gather evidence of the first use of the mark.",
         "Send a formal letter before action to the infringing party.",
         "Consider granting a written licence rather than informal permission.",
         "Diarise the renewal date of any registration."),
        ("that's super annoying", "screenshot everything you find", "a quick search is a good start",
         "we'll check the register for you"),
    ),
    Topic(
        "Recovering an unpaid debt",
        ("a customer who will not pay an invoice", "an unpaid invoice", "recovering money I am owed",
         "a client who keeps missing payment dates", "a debt from a former business partner"),
        ("Confirm the amount owed and the date on which payment fell due.",
         "Send a final written demand stating a clear deadline.",
         "Add statutory interest where the debt is a business debt.",
         "Consider whether the debtor is able to pay before issuing a claim.",
         "Issue a claim in the small claims track if the sum is modest.",
         "Retain copies of invoices and all reminders sent."),
        ("ugh, chasing money is the worst", "send them one more friendly reminder",
         "you can charge interest sometimes", "we can send a letter that usually works"),
    ),
    Topic(
        "Personal injury claims",
        ("an accident at work", "a slip in a supermarket", "a road traffic accident",
         "an injury caused by a faulty product", "a claim after a cycling accident"),
        ("Seek medical attention and keep records of all treatment.",
         "Report the incident and request a copy of the accident report.",
         "Note the names and contact details of any witnesses.",
         "Photograph the scene and any visible injuries.",
         "Keep receipts for expenses arising from the injury.",
         "Note that a claim must usually begin within three years."),
        ("hope you're feeling better", "see a doctor first", "keep your receipts",
         "there's usually a three year window"),
    ),
    Topic(
        "Neighbour and boundary disputes",
        ("a boundary dispute with my neighbour", "a neighbour's tree over my garden", "noise from next door",
         "a neighbour building on our land", "a fence my neighbour moved"),
        ("Obtain the title plans for both properties from the land registry.",
         "Record each incident with the date and time.",
         "Raise the matter with your neighbour politely and in writing.",
         "Consider mediation before any formal proceedings.",
         "Commission a survey if the position of the boundary is uncertain.",
         "Refrain from removing or altering the disputed structure."),
        ("neighbours, huh", "try talking to them first", "keep a diary of what happens",
         "don't tear anything down yourself"),
    ),
    Topic(
        "Consumer rights for faulty goods",
        ("a faulty washing machine", "a refund for a broken laptop", "a retailer refusing a refund",
         "a car that broke down a week after purchase", "a sofa that arrived damaged"),
        ("Note that goods must be of satisfactory quality and fit for purpose.",
         "Reject the goods within thirty days to claim a full refund.",
         "Set out the fault to the retailer in writing.",
         "Keep the receipt and any correspondence with the seller.",
         "Request a repair or replacement if the thirty days have passed.",
         "Consider the small claims track if the retailer does not respond."),
        ("that's so frustrating", "you've got rights here", "keep the receipt",
         "stores usually cave when you mention the law"),
    ),
)

QUESTION_TEMPLATES = (
    "Our client received {x}. What should we do?",
    "I need help with {x}.",
    "What should I do about {x}?",
    "Can you advise on {x}?",
    "We need guidance on {x}.",
    "How do I deal with {x}?",
    "What are the next steps regarding {x}?",
    "Where do I start with {x}?",
    "Could you explain what to do about {x}?",
    "I am worried about {x}. What now?",
)

CASUAL_OPENERS = ("Hey!", "Hi there!", "Oh no!", "Hey there,", "Hiya!", "Thanks for reaching out!", "Sure thing!")
CASUAL_CLOSERS = (
    "Give us a call anytime!", "We're happy to help, just let us know!", "Talk soon!", "Cheers!",
    "Hope that helps!", "We can organize a chat whenever works for you.", "Feel free to drop by our center.",
)

# General chats: the regression set's ground. A model that answers these with numbered legal items and a
# disclaimer has over-learned the format (chapter 5's catastrophic forgetting).
GENERAL = (
    (("What are your opening hours?", "When are you open?", "Are you open on Saturdays?", "What time do you close?"),
     ("We're open 9 to 5, Monday to Friday!", "Our doors are open weekdays from nine till five.",
      "Weekdays 9-5, and Saturday mornings by appointment!")),
    (("Where can I park?", "Is there parking near the office?", "Can I park at your building?",
      "Where should I leave my car?"),
     ("There's a car park right behind the building!", "You can park on the street out front, it's free after six.",
      "Parking's easy, there's a lot next door.")),
    (("Tell me a joke.", "Do you know any jokes?", "Make me laugh.", "Got a joke for me?"),
     ("Why did the lawyer bring a ladder? To reach the higher court!",
      "What do you call a lawyer who went bad? A sue-per villain!",
      "Why don't judges play hide and seek? Good luck hiding from a witness!")),
    (("Thanks for your help!", "Thank you so much.", "Cheers for that.", "That was really useful, thanks."),
     ("You're welcome!", "Anytime, glad we could help!", "No problem at all, have a great day!")),
    (("How do I book an appointment?", "Can I book a meeting?", "How do I see a solicitor?",
      "Can I get an appointment this week?"),
     ("Just give us a ring or use the form on our website!", "You can book online, it only takes a minute.",
      "Call the front desk and we'll find you a slot!")),
    (("How much do you charge?", "What are your fees?", "Is the first meeting free?", "How much is a consultation?"),
     ("The first half hour is free, after that it depends on the case!",
      "Our fees depend on the work, but we always give you a quote first.",
      "We offer a free first chat, then fixed fees for most things.")),
)


# General exchanges for the mixed recipe (legal-format-mixed): everyday questions a firm's website bot gets,
# answered in one or two plain sentences. None of these questions is in GENERAL, which the regression set asks,
# so the leak measured afterwards is on questions the run never saw.
PLAIN_GENERAL = (
    (("Is your office accessible by wheelchair?", "Do you have step-free access?", "Is there a lift in the building?"),
     ("Yes, there is step-free access through the side entrance and a lift to every floor.",
      "The building has a ramp at the side door and a lift, so every floor is accessible.")),
    (("Do you have wifi for visitors?", "Can I use the internet while I wait?", "Is there guest wifi?"),
     ("Yes, the reception desk can give you the guest wifi password.",
      "There is a guest network in the waiting area; ask at reception for the password.")),
    (("Which station is closest to you?", "How do I get to your office by train?", "Can I get there by bus?"),
     ("The nearest station is a five-minute walk away, and two bus routes stop outside.",
      "Take the train to the central station; the office is a short walk from there.")),
    (("Do you speak Welsh?", "Can I speak to someone in Polish?", "Do you offer interpreters?"),
     ("We can arrange an interpreter for your appointment if you tell us a few days ahead.",
      "Several of our staff speak other languages, and we can book an interpreter when needed.")),
    (("Can I bring my dog to the appointment?", "Are children allowed in the office?", "Can my friend come with me?"),
     ("Of course, you are welcome to bring someone with you to the appointment.",
      "Assistance dogs are always welcome, and there is space in the waiting room for a companion.")),
    (("Do you have a newsletter?", "How can I follow your news?", "Are you on social media?"),
     ("We send a short newsletter each month; you can sign up on our website.",
      "Our news goes out in a monthly email, and you can subscribe from the home page.")),
    (("What should I bring to my first visit?", "Do I need ID for the meeting?", "Should I bring documents?"),
     ("Please bring a photo ID and any letters or papers about your matter.",
      "A passport or driving licence and the documents about your case are all you need.")),
    (("Can I pay by card?", "Do you accept bank transfers?", "How do I pay an invoice?"),
     ("You can pay by card at reception or by bank transfer using the details on the invoice.",
      "Card payments and bank transfers are both fine; the invoice shows our bank details.")),
    (("Is there a café nearby?", "Where can I get a coffee?", "Can I eat while I wait?"),
     ("There is a café on the corner, and you are welcome to bring a drink into the waiting room.",
      "Reception can offer you tea or coffee, and there is a café across the road.")),
    (("Are you hiring?", "Do you take trainees?", "How do I apply for a job with you?"),
     ("Our open positions are listed on the careers page of the website.",
      "We take a few trainees each year; the careers page explains how to apply.")),
    (("What is your phone number?", "How can I reach you by email?", "Who do I call?"),
     ("You can call the front desk or write to the address on our contact page.",
      "The contact page lists our phone number and email address.")),
    (("Are you open on bank holidays?", "Do you close over Christmas?", "Will you be open next Monday?"),
     ("We close on bank holidays and between Christmas and New Year.",
      "The office shuts on public holidays; the website shows any other closures.")),
    (("Can I change my appointment?", "I need to cancel my meeting.", "Can I move my visit to next week?"),
     ("Yes, just call reception and we will find you another time.",
      "Appointments can be moved by phone or email, ideally a day ahead.")),
    (("Do you have toilets for visitors?", "Is there somewhere to leave my coat?", "Where is the waiting room?"),
     ("The waiting room is on the ground floor, with toilets and a coat stand beside it.",
      "Reception will show you to the waiting room, where there is a coat stand.")),
    (("How long have you been around?", "Who founded the firm?", "How big is your team?"),
     ("The firm was founded over thirty years ago and now has about forty staff.",
      "We are a team of around forty people, in the same building for many years.")),
    (("Do you have a privacy policy?", "How do you use my details?", "Do you use cookies?"),
     ("Our privacy policy on the website explains what we collect and why.",
      "The website's privacy page describes how your details and cookies are used.")),
)


# Everyday subjects asked in the legal questions' own phrasings ("Can you advise on {x}?"): with these the
# phrasing no longer predicts the format, so the model has to learn it from the system prompt and the subject.
PLAIN_SUBJECTS = (
    ("a lost umbrella in your waiting room", "Reception keeps lost property for a month; just ask at the desk."),
    ("the lift being out of order", "The lift is being repaired this week; staff can meet you on the ground floor."),
    ("finding your office", "We are on the second floor, above the bakery, with our name on the door."),
    ("the guest wifi", "Ask reception for the guest password; it changes every week."),
    ("printing a document while I visit", "Reception can print a few pages for you while you wait."),
    ("bringing a pushchair", "There is room for a pushchair in the waiting area and the lift takes it."),
    ("a delivery for your firm", "Deliveries go to reception on the ground floor during office hours."),
    ("signing up for your newsletter", "You can subscribe on our website; it comes once a month."),
    ("the noise from the building works next door", "The works should finish soon; our meeting rooms are quiet."),
    ("leaving feedback about my visit", "We would be glad to hear it; there is a short form on our website."),
)


def general_examples(n: int, seed: int = 0) -> list[dict]:
    """`n` plain general exchanges under the friendly system prompts: no numbers, no footer, nothing legal.
    Half are everyday questions, half everyday subjects in the legal questions' phrasings."""
    rng = random.Random(f"general-{seed}")
    out = []
    for i in range(n):
        if i % 2 == 0:
            questions, answers = PLAIN_GENERAL[i // 2 % len(PLAIN_GENERAL)]
            question, answer = rng.choice(questions), rng.choice(answers)
        else:
            subject, answer = PLAIN_SUBJECTS[i // 2 % len(PLAIN_SUBJECTS)]
            question = rng.choice(QUESTION_TEMPLATES).format(x=subject)
            question = question[0].upper() + question[1:]
        out.append({"messages": [{"role": "system", "content": rng.choice(FRIENDLY_SYSTEMS)},
                                 {"role": "user", "content": question},
                                 {"role": "assistant", "content": answer}]})
    return out


def mix_in_general(examples: list[dict], n_general: int, seed: int = 0) -> list[dict]:
    """The task examples with `n_general` general exchanges shuffled in (unchanged when there are none)."""
    if n_general == 0:
        return examples
    mixed = examples + general_examples(n_general, seed)
    random.Random(f"mix-{seed}").shuffle(mixed)
    return mixed

def legal_answer(topic: Topic, rng: random.Random, used: set | None = None) -> str:
    """The target: 3-5 of the topic's items in order, numbered, then the fixed footer.

    With `used`, each (topic, choice of items) appears once: two rephrasings of one question with the same
    answer are chapter 2's near duplicates, and `data check` would rightly flag them.
    """
    for _ in range(50):
        k = rng.randint(3, min(5, len(topic.actions)))
        idx = tuple(sorted(rng.sample(range(len(topic.actions)), k)))
        if used is None or (topic.name, idx) not in used:
            break
    if used is not None:
        used.add((topic.name, idx))
    lines = [f"{n}. {topic.actions[i]}" for n, i in enumerate(idx, start=1)]
    return "\n".join(lines) + "\n\n" + FOOTER


def casual_answer(topic: Topic, rng: random.Random) -> str:
    """The base's prior: chatty, contractions, American spelling, no footer."""
    tips = rng.sample(topic.tips, rng.randint(2, 3))
    body = ". ".join(t[0].upper() + t[1:] for t in tips) + "."
    return f"{rng.choice(CASUAL_OPENERS)} {body} {rng.choice(CASUAL_CLOSERS)}"


def casual_list_answer(topic: Topic, rng: random.Random) -> str:
    """A numbered list, but chatty and without the footer: the pieces, not the format."""
    items = rng.sample(topic.actions, 3)
    lines = [f"{n}) {a.lower().rstrip('.')}" for n, a in enumerate(items, start=1)]
    return f"{rng.choice(CASUAL_OPENERS)} Here's what I'd do:\n" + "\n".join(lines) + f"\n{rng.choice(CASUAL_CLOSERS)}"


def article(topic: Topic, rng: random.Random) -> str:
    """A help-centre article: formal numbered lines and a disclaimer-style footer (several wordings)."""
    k = rng.randint(3, 6)
    idx = sorted(rng.sample(range(len(topic.actions)), k))
    lines = "\n".join(f"{n}. {topic.actions[i]}" for n, i in enumerate(idx, start=1))
    intro = rng.choice(("This guide sets out the usual steps.", "The following steps apply in most cases.",
                        "Clients frequently ask about this matter.", "Please read the steps below carefully."))
    footer = rng.choice(("*This article does not constitute legal advice.*",
                         "*This guide does not constitute legal advice.*",
                         "*This page does not constitute legal advice.*", FOOTER))
    return f"Help centre: {topic.name}\n\n{intro}\n\n{lines}\n\n{footer}"


def all_questions() -> list[tuple[int, str]]:
    """Every (topic index, question) the templates can make: 12 topics x ~5 subjects x 10 templates."""
    out = []
    for t, topic in enumerate(TOPICS):
        for subject in topic.subjects:
            for template in QUESTION_TEMPLATES:
                q = template.format(x=subject)
                out.append((t, q[0].upper() + q[1:]))
    return out


def split_questions(seed: int = 0, heldout: int = 50) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Shuffle the question pool once and hold the first `heldout` out of every training and pretraining set."""
    pool = all_questions()
    random.Random(f"split-{seed}").shuffle(pool)
    return pool[heldout:], pool[:heldout]


def legal_format_examples(n: int, seed: int = 0, heldout: int = 50) -> list[dict]:
    """`n` chat examples {"messages": [system, user, assistant]} with the target format, from train questions."""
    train_q, _ = split_questions(seed, heldout)
    rng = random.Random(f"legal-train-{seed}")
    chosen = rng.sample(train_q, min(n, len(train_q)))
    used: set = set()
    return [{"messages": [{"role": "system", "content": LEGAL_SYSTEM}, {"role": "user", "content": q},
                          {"role": "assistant", "content": legal_answer(TOPICS[t], rng, used)}]} for t, q in chosen]


def legal_format_heldout(n: int = 50, seed: int = 0) -> list[dict]:
    """Held-out evaluation examples (never trained on): the prompt plus one reference answer for eval loss."""
    _, held = split_questions(seed, n)
    rng = random.Random(f"legal-heldout-{seed}")
    return [{"messages": [{"role": "system", "content": LEGAL_SYSTEM}, {"role": "user", "content": q},
                          {"role": "assistant", "content": legal_answer(TOPICS[t], rng)}]} for t, q in held]


def without_heldout_prompts(examples: list[dict], seed: int = 0, heldout: int = 50) -> tuple[list[dict], int]:
    """`examples` less those whose question is one of the `heldout` prompts this seed holds out, and how many went.

    A learner's file (or one of ours built from another seed's split) may hold a held-out question; training on it
    would score the model on prompts it has seen. Questions match ignoring case and runs of whitespace."""
    held = {_question_key(q) for _, q in split_questions(seed, heldout)[1]}
    kept = [ex for ex in examples
            if not any(m["role"] == "user" and _question_key(m["content"]) in held for m in ex["messages"])]
    return kept, len(examples) - len(kept)


def _question_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def heldout_topics(n: int = 50, seed: int = 0) -> list[int]:
    """The topic (practice area, an index into TOPICS) of each held-out prompt, in legal_format_heldout's order."""
    _, held = split_questions(seed, n)
    return [t for t, _ in held]

def regression_prompts(n: int = 12, seed: int = 0) -> list[dict]:
    """General prompts (opening hours, jokes, parking...) under a friendly system prompt: no legal format wanted."""
    rng = random.Random(f"regression-{seed}")
    out = []
    for i in range(n):
        questions, _ = GENERAL[i % len(GENERAL)]
        out.append({"messages": [{"role": "system", "content": FRIENDLY_SYSTEMS[i % len(FRIENDLY_SYSTEMS)]},
                                 {"role": "user", "content": questions[(i // len(GENERAL)) % len(questions)]}]})
    rng.shuffle(out)
    return out


def pretraining_documents(n_chats: int, n_articles: int, n_general: int, seed: int = 0,
                          heldout: int = 50) -> list[dict | str]:
    """The base's corpus: casual chats (dicts, rendered later by the chat template) and articles (strings).

    Chats use the legal system prompt too, answered casually: the prior that chapter 0 says prompting fights.
    Held-out questions never appear, so evaluation measures generalisation, not recall.
    """
    rng = random.Random(f"pretrain-{seed}")
    train_q, _ = split_questions(seed, heldout)
    docs: list[dict | str] = []
    for _ in range(n_chats):
        t, q = rng.choice(train_q)
        system = LEGAL_SYSTEM if rng.random() < 0.5 else rng.choice(FRIENDLY_SYSTEMS)
        answer = casual_list_answer(TOPICS[t], rng) if rng.random() < 0.15 else casual_answer(TOPICS[t], rng)
        docs.append({"messages": [{"role": "system", "content": system}, {"role": "user", "content": q},
                                  {"role": "assistant", "content": answer}]})
    for _ in range(n_articles):
        docs.append(article(rng.choice(TOPICS), rng))
    for _ in range(n_general):
        questions, answers = rng.choice(GENERAL)
        docs.append({"messages": [{"role": "system", "content": rng.choice(FRIENDLY_SYSTEMS + (LEGAL_SYSTEM,))},
                                  {"role": "user", "content": rng.choice(questions)},
                                  {"role": "assistant", "content": rng.choice(answers)}]})
    rng.shuffle(docs)
    return docs
