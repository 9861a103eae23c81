"""Chat-JSONL checks (`course-lab data check`) and cleaning (`data clean`): chapter 2's checklist, with line numbers.

A file is usable when no line has an error; warnings (duplicates, near duplicates, inconsistent format,
imbalance) are reported and `data clean` removes what it safely can. Never raises on bad input: every
problem becomes an `Issue` naming its line and rule. Not the place for training or evaluation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labs import LabError

ROLES = ("system", "user", "assistant")
TOOL_ROLES = ("tool", "function", "ipython")
TOOL_KEYS = ("tool_calls", "function_call", "tool_call_id")
MESSAGE_KEYS = ("role", "content")
TOP_LEVEL_KEYS = ("messages", "label")
NEAR_THRESHOLD = 0.8  # Jaccard similarity of word 3-gram sets at which two examples count as near duplicates
SHINGLE = 3
EPOCHS_FOR_COST = 3  # chapter 4's examples train for 3 epochs
PRICE_PER_MTOK = 3.0  # illustrative hosted-API training price in $ per million tokens; --price-per-mtok sets it
LENGTH_BUCKETS = ((0, 64, "short"), (64, 256, "medium"), (256, 10**9, "long"))  # answer tokens


@dataclass
class Issue:
    line: int | None  # 1-based line in the file; None for whole-file findings
    rule: str
    message: str
    severity: str = "error"  # error | warning | note


@dataclass
class Report:
    file: str
    lines: int = 0
    examples: int = 0
    usable: bool = True
    issues: list[Issue] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["errors"], d["warnings"] = len(self.errors), len(self.warnings)
        return d


def _describe(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null", bool: "true/false",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _shown(value, limit: int = 60) -> str:
    """A value quoted in a message: as JSON, cut to `limit` characters (a report never echoes a megabyte)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (RecursionError, ValueError):
        return "a deeply nested value"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_example(obj, line: int) -> list[Issue]:
    """The schema rules for one parsed line."""
    def err(rule, message, severity="error"):
        return Issue(line, rule, f"line {line}: {message}", severity)

    if not isinstance(obj, dict):
        return [err("not_an_object", f'expected a JSON object like {{"messages": [...]}}, got {_describe(obj)}')]
    issues = [err("unknown_key", f'unknown key {_shown(k)} (ignored; known: messages, label)', "warning")
              for k in obj if k not in TOP_LEVEL_KEYS]
    if "messages" not in obj:
        return issues + [err("missing_messages", 'no "messages" key: each line needs a "messages" list')]
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        return issues + [err("messages_not_list",
                             f'"messages" should be a non-empty list of {{role, content}} objects, '
                             f"got {_describe(messages) if messages != [] else 'an empty list'}")]
    roles = []
    for n, m in enumerate(messages, start=1):
        if not isinstance(m, dict):
            issues.append(err("message_not_object", f"message {n} should be an object with role and content, "
                                                    f"got {_describe(m)}"))
            roles.append(None)
            continue
        role = m.get("role")
        if role in TOOL_ROLES or any(k in m for k in TOOL_KEYS):
            issues.append(err("tool_call", f"message {n} is a tool call or tool result; tool-call messages "
                                           "are not supported by the labs"))
            roles.append(None)
            continue
        for key in m:
            if key not in MESSAGE_KEYS:
                issues.append(err("unknown_message_key", f'message {n} has unknown key {_shown(key)} '
                                                         "(messages take only role and content)"))
        if "role" not in m:
            issues.append(err("missing_role", f"message {n} has no role"))
        elif role not in ROLES:
            hint = f'; use lowercase "{role.lower()}"' if isinstance(role, str) and role.lower() in ROLES else \
                "; use system, user or assistant"
            issues.append(err("unknown_role", f"message {n} has role {_shown(role)}{hint}"))
        if "content" not in m:
            issues.append(err("missing_content", f"message {n} ({role}) has no content"))
        elif not isinstance(m["content"], str):
            issues.append(err("non_string_content", f"message {n} ({role}) content should be a string, "
                                                    f"got {_describe(m['content'])}"))
        elif not m["content"].strip():
            issues.append(err("empty_content", f"message {n} ({role}) has empty content{_empty_why(role)}"))
        roles.append(role if role in ROLES else None)
    issues += _check_order(roles, err)
    return issues


def _check_order(roles: list, err) -> list[Issue]:
    """system (optional, first) then user, assistant, user, assistant..., with an assistant turn to learn from."""
    if None in roles:
        return []  # the malformed message is already reported
    out = []
    body = roles[1:] if roles and roles[0] == "system" else roles
    if "system" in body:
        out.append(err("role_order", f"message {roles.index('system', 1) + 1} is a system message; "
                                     "only the first message may be the system prompt"))
        return out
    if "assistant" not in body:
        return [err("no_assistant", "no assistant message: nothing to learn from")]
    offset = len(roles) - len(body)
    for i, role in enumerate(body):
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            out.append(err("role_order", f"message {i + offset + 1} is {role} but {expected} was expected: "
                                         "turns alternate user, assistant after the optional system prompt"))
            break
    if not out and body[-1] == "user":
        out.append(err("trailing_user", f"the last message ({len(roles)}) is a user turn with no answer: training "
                                         "spends tokens on it and learns nothing from it; end each example with "
                                         "the assistant's answer", "warning"))
    return out


def _content_key(messages: list[dict]) -> str:
    return "\x1f".join(f"{m['role']}\x1e{m['content']}" for m in messages)


def _shingles(messages: list[dict]) -> set[str]:
    """Word 3-grams of the user and assistant turns (the shared system prompt would make everything similar)."""
    words = re.findall(r"\w+", " ".join(m["content"] for m in messages if m["role"] != "system").lower())
    return {" ".join(words[i: i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}


def near_duplicates(examples: list[tuple[int, list[dict]]], threshold: float) -> list[tuple[int, int, float]]:
    """(line, earlier line, Jaccard) for each example close to an earlier one: MinHash signatures + LSH buckets
    find candidates, then the exact Jaccard of the shingle sets confirms them."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    sets, found = {}, []
    for line, messages in examples:
        sh = _shingles(messages)
        mh = MinHash(num_perm=128, seed=1)
        mh.update_batch(s.encode("utf-8") for s in sh)
        best = None
        for other in lsh.query(mh):
            j = len(sh & sets[other]) / max(1, len(sh | sets[other]))
            if j >= threshold and (best is None or j > best[1]):
                best = (other, j)
        if best is not None:
            found.append((line, best[0], best[1]))
        else:  # keep only first occurrences in the index, so each duplicate points at its original
            lsh.insert(line, mh)
            sets[line] = sh
    return found


def _load_lines(path: Path, report: Report) -> list[tuple[int, dict]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LabError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise LabError(f"{path} is a folder, not a JSONL file") from None
    except OSError as exc:
        raise LabError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        report.issues.append(Issue(line, "not_utf8", f"line {line}: the file is not UTF-8 text (byte {exc.start})"))
        return []
    parsed = []
    lines = text.splitlines()
    report.lines = len(lines)
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            if n < len(lines):
                report.issues.append(Issue(n, "blank_line", f"line {n}: blank line (ignored)", "warning"))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            report.issues.append(Issue(n, "invalid_json", f"line {n}: not valid JSON ({exc.msg} at column "
                                                          f"{exc.colno})"))
            continue
        except (ValueError, RecursionError):  # a number of thousands of digits, or nesting past Python's stack
            report.issues.append(Issue(n, "invalid_json", f"line {n}: JSON too deeply nested or with a number "
                                                          "too long to read"))
            continue
        parsed.append((n, obj))
    return parsed


def _token_counter(tokenizer):
    if tokenizer is None:
        return lambda text: max(1, round(len(text) / 4)), "estimated as characters / 4 (no tokenizer loaded)"
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"]), "counted with the base's tokenizer"


def check_file(path: Path, tokenizer=None, max_tokens: int | None = None, near_threshold: float = NEAR_THRESHOLD,
               price_per_mtok: float = PRICE_PER_MTOK, max_length: int | None = None) -> Report:
    """Every rule on every line, then the dataset-level checklist. `tokenizer` (optional) counts tokens;
    `max_tokens` is the base's context, `max_length` the recipe's `max_seq_len`, where training truncates."""
    path = Path(path)
    report = Report(file=str(path))
    parsed = _load_lines(path, report)
    good: list[tuple[int, list[dict], dict]] = []
    for line, obj in parsed:
        issues = check_example(obj, line)
        report.issues += issues
        if not any(i.severity == "error" for i in issues):
            good.append((line, obj["messages"], obj))
    report.examples = len(parsed)
    if not parsed and not report.errors:
        report.issues.append(Issue(None, "empty_file", "the file has no examples"))
    count, how = _token_counter(tokenizer)
    lengths, answer_lengths = [], []
    for line, messages, _ in good:
        n = sum(count(m["content"]) + 4 for m in messages)  # +4: role markers and end token, roughly
        lengths.append(n)
        answer_lengths.append(sum(count(m["content"]) for m in messages if m["role"] == "assistant"))
        if max_tokens is not None and n > max_tokens:
            report.issues.append(Issue(line, "too_long", f"line {line}: {n} tokens, more than the limit of "
                                                         f"{max_tokens}; it would be cut off"))
    if max_length is not None:
        report.issues += _truncation_issues(good, count, max_length)
    _dataset_checks(report, good, near_threshold)
    total = sum(lengths)
    report.stats.update({
        "valid_examples": len(good), "total_tokens": total, "answer_tokens": sum(answer_lengths),
        "tokens": how, "max_tokens": max_tokens,
        "length": _length_stats(answer_lengths),
        "near_duplicate_threshold": near_threshold,
        "estimated_cost": {"epochs": EPOCHS_FOR_COST, "training_tokens": total * EPOCHS_FOR_COST,
                           "price_per_mtok_usd": price_per_mtok,
                           "usd": round(total * EPOCHS_FOR_COST * price_per_mtok / 1e6, 4)},
    })
    report.usable = not report.errors
    return report


def _length_stats(lengths: list[int]) -> dict:
    if not lengths:
        return {}
    ordered = sorted(lengths)
    buckets = {name: sum(lo <= n < hi for n in lengths) for lo, hi, name in LENGTH_BUCKETS}
    return {"answer_tokens_min": ordered[0], "answer_tokens_median": ordered[len(ordered) // 2],
            "answer_tokens_max": ordered[-1], "buckets": buckets}


def _dataset_checks(report: Report, good: list[tuple[int, list[dict], dict]], near_threshold: float) -> None:
    # exact duplicates: a hash of every role and content
    seen: dict[str, int] = {}
    unique = []
    for line, messages, _ in good:
        h = hashlib.sha256(_content_key(messages).encode("utf-8")).hexdigest()
        if h in seen:
            report.issues.append(Issue(line, "exact_duplicate", f"line {line}: exact duplicate of line {seen[h]}",
                                       "warning"))
        else:
            seen[h] = line
            unique.append((line, messages))
    for line, other, j in near_duplicates(unique, near_threshold):
        report.issues.append(Issue(line, "near_duplicate", f"line {line}: near duplicate of line {other} "
                                                           f"(Jaccard {j:.2f} >= {near_threshold:.2f})", "warning"))
    answers = [(line, [m["content"] for m in messages if m["role"] == "assistant"][-1]) for line, messages, _ in good
               if any(m["role"] == "assistant" for m in messages)]
    _format_consistency(report, answers)
    report.issues += _degenerate_answers(answers)
    report.issues += _system_prompt_consistency(good)
    _label_balance(report, good, answers)
    _length_note(report, answers)


def _format_consistency(report: Report, answers: list[tuple[int, str]]) -> None:
    """A footer (last line) or numbering that most answers share but some lack: chapter 2's 60% example."""
    if len(answers) < 4:
        return

    def last_line(answer: str) -> str | None:  # a footer is the last line of an answer of several lines
        lines = [x.strip() for x in answer.strip().splitlines() if x.strip()]
        return lines[-1] if len(lines) > 1 else None

    last_lines = Counter(last_line(a) for _, a in answers)
    footer, n = max(((k, v) for k, v in last_lines.items() if k is not None), key=lambda kv: kv[1],
                    default=(None, 0))
    if footer is not None and len(answers) / 2 <= n < len(answers) and n > 1:
        missing = [line for line, a in answers if last_line(a) != footer]
        report.issues.append(Issue(None, "inconsistent_footer",
                                   f'{n} of {len(answers)} answers end with "{footer[:60]}" but lines '
                                   f"{_lines(missing)} do not; the model would learn it only some of the time",
                                   "warning"))
    numbered = [line for line, a in answers if re.match(r"\s*1[.)] ", a)]
    if len(answers) / 2 <= len(numbered) < len(answers):
        missing = [line for line, _ in answers if line not in set(numbered)]
        report.issues.append(Issue(None, "inconsistent_numbering",
                                   f"{len(numbered)} of {len(answers)} answers are numbered lists but lines "
                                   f"{_lines(missing)} are not", "warning"))


def _label_balance(report: Report, good, answers: list[tuple[int, str]]) -> None:
    """Labels from a top-level "label", else short one-phrase answers (a classifier's dataset)."""
    labels = [obj["label"] for _, _, obj in good if isinstance(obj.get("label"), str)]
    source = "label"
    if len(labels) != len(good):
        short = [a.strip() for _, a in answers]
        if short and all(len(a.split()) <= 3 for a in short) and len(set(short)) <= min(20, len(short) / 2):
            labels, source = short, "assistant answer"
        else:
            return
    counts = Counter(labels)
    report.stats["labels"] = {"source": source, "counts": dict(counts.most_common())}
    if len(counts) > 1:
        (top, hi), (low, lo) = counts.most_common()[0], counts.most_common()[-1]
        if hi > 3 * lo:
            report.issues.append(Issue(None, "label_imbalance",
                                       f'labels are imbalanced: "{top}" {hi} vs "{low}" {lo} examples; the model '
                                       "will lean to the majority label", "warning"))


def _length_note(report: Report, answers: list[tuple[int, str]]) -> None:
    if len(answers) < 10:
        return
    words = [len(a.split()) for _, a in answers]
    if max(words) <= 2 * max(1, min(words)) and max(words) > 3:
        report.issues.append(Issue(None, "narrow_lengths",
                                   f"every answer has {min(words)}-{max(words)} words; include shorter and longer "
                                   "ones if the model should handle other lengths", "note"))


# -- rules a real file gets wrong: what training would do with it, and why that matters --------------------------

def _empty_why(role) -> str:
    """The reason an empty turn is an error, for the role that has it."""
    if role == "assistant":
        return ": an empty answer teaches the model to stop at once"
    return ""


TEMPLATE_TOKENS_PER_MESSAGE = 4  # role marker, newline, end token, newline: our template and ChatML alike


def _truncation_issues(good, count, max_length: int) -> list[Issue]:
    """Examples longer than the recipe's max_seq_len. Both engines keep the first max_seq_len tokens and drop the
    rest, so the answer (last) is what is lost: its end (the footer, the end token), or all of it."""
    out = []
    for line, messages, _ in good:
        sizes = [count(m["content"]) + TEMPLATE_TOKENS_PER_MESSAGE for m in messages]
        total = sum(sizes)
        if total <= max_length or messages[-1]["role"] != "assistant":
            continue
        answer_starts = total - sizes[-1] + 2  # the answer's role marker and newline come first
        if answer_starts >= max_length:
            out.append(Issue(line, "answer_cut_off", f"line {line}: about {total} tokens, but training keeps only "
                                                     f"the first {max_length} (max_seq_len) and the answer starts at "
                                                     f"token {answer_starts}: none of it would be learned; shorten "
                                                     "the prompt or raise max_seq_len"))
        else:
            lost = total - max_length
            out.append(Issue(line, "answer_truncated", f"line {line}: about {total} tokens, over max_seq_len "
                                                       f"{max_length}: training drops the answer's last {lost} "
                                                       "tokens (its ending and end token), so the model learns "
                                                       "answers that stop mid-way", "warning"))
    return out


LONGEST_LOOP = 12  # words in the longest phrase looked for as a back-to-back repeat
MIN_REPEATS = 4  # "the same phrase 4 times in a row" (a list with shared wording repeats nothing back to back)


def _back_to_back_repeats(words: list[str]) -> tuple[str, int]:
    """The phrase (1 to LONGEST_LOOP words) repeated most times in a row, and how many times."""
    best = ("", 1)
    for k in range(1, LONGEST_LOOP + 1):
        for start in range(min(k, len(words))):
            run, i = 1, start
            while i + 2 * k <= len(words):
                if words[i: i + k] == words[i + k: i + 2 * k]:
                    run += 1
                    if run > best[1]:
                        best = (" ".join(words[i: i + k]), run)
                else:
                    run = 1
                i += k
    return best


def _degenerate_answers(answers: list[tuple[int, str]]) -> list[Issue]:
    """Answers that repeat one line, or one phrase back to back, many times: a generation loop that training would
    teach. Lists whose items share wording are not loops: their items differ."""
    out = []
    for line, answer in answers:
        lines = [x.strip() for x in answer.splitlines() if x.strip()]
        top_line, line_repeats = Counter(lines).most_common(1)[0] if lines else ("", 0)
        phrase, phrase_repeats = _back_to_back_repeats(answer.lower().split())
        if line_repeats >= MIN_REPEATS - 1 and line_repeats * 2 >= len(lines):
            what = f'the line "{top_line[:50]}" {line_repeats} times'
        elif phrase_repeats >= MIN_REPEATS:
            what = f'the phrase "{phrase[:50]}" {phrase_repeats} times in a row'
        else:
            continue
        out.append(Issue(line, "degenerate_answer", f"line {line}: the answer repeats {what}; a model trained on it "
                                                    "learns to loop instead of finishing", "warning"))
    return out


def _system_prompt_consistency(good) -> list[Issue]:
    """One task, one system prompt: examples without it, or with a different one, teach behaviour that the prompt
    sent at inference does not reliably switch on. Reported when most examples share one prompt."""
    prompts = [(line, messages[0]["content"] if messages[0]["role"] == "system" else None)
               for line, messages, _ in good]
    counts = Counter(prompt for _, prompt in prompts)
    if len(prompts) < 4 or len(counts) < 2:
        return []
    usual, n = counts.most_common(1)[0]
    if usual is None or n * 2 < len(prompts):
        if usual is None and n * 2 >= len(prompts):
            return []  # most examples have no system prompt: the few that do are a choice, not a slip
        return [Issue(None, "mixed_system_prompts", f"{len(counts)} different system prompts (or none) across "
                                                    f"{len(prompts)} examples; fine for a multi-persona dataset, "
                                                    "but a single task should use one", "note")]
    missing = [line for line, prompt in prompts if prompt is None]
    different = [line for line, prompt in prompts if prompt not in (None, usual)]
    parts = []
    if missing:
        parts.append(f"{_line_or_lines(missing)} {'has' if len(missing) == 1 else 'have'} none")
    if different:
        parts.append(f"{_line_or_lines(different)} {'has' if len(different) == 1 else 'have'} a different one")
    return [Issue(None, "inconsistent_system_prompt",
                  f'{n} of {len(prompts)} examples use the system prompt "{usual[:60]}" but {" and ".join(parts)}; '
                  "the model then learns the behaviour partly without the prompt that will ask for it", "warning")]


def _line_or_lines(lines: list[int]) -> str:
    return f"line {lines[0]}" if len(lines) == 1 else f"lines {_lines(lines)}"


def _lines(lines: list[int], limit: int = 8) -> str:
    text = ", ".join(str(n) for n in lines[:limit])
    return text + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


def format_report(report: Report) -> str:
    """Human-readable report for the terminal."""
    out = [f"{report.file}: {report.examples} examples on {report.lines} lines"]
    for issue in report.issues:
        prefix = {"error": "error", "warning": "warning", "note": "note"}[issue.severity]
        out.append(f"  {prefix}: {issue.message}")
    s = report.stats
    if s.get("valid_examples"):
        length = s["length"]
        out.append(f"  tokens: {s['total_tokens']} in all, {s['answer_tokens']} in answers ({s['tokens']})")
        out.append(f"  answer length (tokens): min {length['answer_tokens_min']}, median "
                   f"{length['answer_tokens_median']}, max {length['answer_tokens_max']}; "
                   + ", ".join(f"{k} {v}" for k, v in length["buckets"].items()))
        if "labels" in s:
            out.append("  labels (" + s["labels"]["source"] + "): "
                       + ", ".join(f"{k} {v}" for k, v in s["labels"]["counts"].items()))
        c = s["estimated_cost"]
        out.append(f"  estimated training: {c['training_tokens']} tokens for {c['epochs']} epochs, about "
                   f"${c['usd']:.2f} at ${c['price_per_mtok_usd']:.2f} per million tokens (hosted-API pricing; "
                   "free on your own machine)")
        out.append(f"  near duplicates: MinHash LSH on word {SHINGLE}-grams, Jaccard threshold "
                   f"{s['near_duplicate_threshold']:.2f}")
    verdict = "usable" if report.usable else "NOT usable"
    out.append(f"{verdict}: {len(report.errors)} errors, {len(report.warnings)} warnings")
    return "\n".join(out)


def clean_file(src: Path, dst: Path, near_threshold: float = NEAR_THRESHOLD) -> dict:
    """Write `dst` without broken lines and exact or near duplicates (the first occurrence stays).

    Repairs rather than drops what is unambiguous: role names in capitals, whitespace around contents,
    unknown top-level keys. Returns what was kept, removed (line and reason) and repaired.
    """
    report = check_file(src, near_threshold=near_threshold)
    reasons: dict[int, str] = {}
    for issue in report.issues:
        repairable = issue.rule == "unknown_role" and "lowercase" in issue.message
        if issue.line is not None and not repairable and (
                issue.severity == "error" or issue.rule in ("exact_duplicate", "near_duplicate")):
            reasons.setdefault(issue.line, issue.message)
    kept, removed, fixed, seen = [], [], 0, set()
    for n, line in enumerate(Path(src).read_text(encoding="utf-8-sig", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        if n in reasons:
            removed.append({"line": n, "reason": reasons[n]})
            continue
        obj = json.loads(line)  # lines that do not parse have an error reason above
        new = {"messages": [{"role": m["role"].lower() if isinstance(m.get("role"), str) else m.get("role"),
                             "content": m["content"].strip()} for m in obj["messages"]]}
        if isinstance(obj.get("label"), str):
            new["label"] = obj["label"]
        still = [i for i in check_example(new, n) if i.severity == "error"]
        if still:
            removed.append({"line": n, "reason": still[0].message})
            continue
        key = _content_key(new["messages"])
        if key in seen:  # a repair made it equal to an earlier example
            removed.append({"line": n, "reason": f"line {n}: duplicate of an earlier example once repaired"})
            continue
        seen.add(key)
        fixed += new != obj
        kept.append(new)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "w", encoding="utf-8") as f:
        for ex in kept:
            f.write(json.dumps(ex, ensure_ascii=False) + "\n")
    return {"input": str(src), "output": str(dst), "kept": len(kept), "removed": removed, "repaired": fixed}


def load_usable_examples(path: Path) -> list[dict]:
    """For training on a learner's file: the examples, or a LabError summarising why the file is not usable."""
    report = check_file(path)
    if not report.usable:
        first = "; ".join(i.message for i in report.errors[:3])
        raise LabError(f"{path} is not usable for training ({len(report.errors)} errors: {first}). "
                       f"Run `course-lab data check {path}` for the full report.")
    out = []
    for line in Path(path).read_text(encoding="utf-8-sig").splitlines():
        if line.strip():
            obj = json.loads(line)
            out.append({"messages": [{"role": m["role"], "content": m["content"]} for m in obj["messages"]]})
    return out
