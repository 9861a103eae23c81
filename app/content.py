"""Loads the course from `chapters/*.md`: front matter checked, Markdown rendered once at start-up.

Rendering happens here so a page request only fills a template. A broken chapter file stops the
server at start with the file and the rule it breaks, never at request time.
"""

import re
from dataclasses import dataclass
from functools import cached_property
from html import escape
from pathlib import Path

import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.container import container_plugin
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

CALLOUT_TITLES = {
    "core-insight": "Core insight",
    "rag-escape-hatch": "The RAG escape hatch",
    "hidden-cost": "The hidden cost",
    "tip": "Tip",
    "warning": "Watch out",
    "meta-lesson": "The meta-lesson",
    "update": "Update",
}
LAB_TITLES = {
    "data": "Data lab: check a training file",
    "training": "Training lab: a real QLoRA fine-tune",
    "evaluation": "Evaluation lab: base model vs fine-tuned",
    "sweep": "Sweep lab: your own compliance curve",
    "compare": "Comparison lab: plain vs mixed training data",
}
LAB_PROMISES = {
    "data": "Upload a chat JSONL file and get the cleaning checklist run on it: errors by line, "
    "duplicates and near duplicates, balance, lengths, tokens and cost.",
    "training": "Launch a real QLoRA fine-tune of a small model on this server, watch its loss "
    "fall live and measure format compliance before and after.",
    "evaluation": "Compare the base and fine-tuned model on the same held-out prompts, with the "
    "compliance rule that failed for each answer and the regression prompts.",
    "sweep": "Train the same recipe at several numbers of examples and draw the measured compliance, "
    "with its uncertainty, over the simulation above.",
    "compare": "Your runs of the plain and the mixed recipe side by side: compliance, relevance and "
    "format leakage, before and after training.",
}
FILE_NAME = re.compile(r"^(\d\d)-([a-z0-9-]+)\.md$")


class ContentError(Exception):
    """A chapter file breaks a rule; the message names the file and the rule."""


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    text: str = Field(min_length=1)
    correct: bool = False
    explanation: str = Field(min_length=10)


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    prompt: str = Field(min_length=10)
    from_spec: bool = False
    options: list[Option] = Field(min_length=3, max_length=6)

    @model_validator(mode="after")
    def _exactly_one_correct_and_unique_ids(self) -> "Question":
        correct = [o.id for o in self.options if o.correct]
        if len(correct) != 1:
            raise ValueError(f"question {self.id!r} needs exactly one correct option, has {len(correct)}")
        ids = [o.id for o in self.options]
        if len(set(ids)) != len(ids):
            raise ValueError(f"question {self.id!r} repeats an option id")
        return self

    @cached_property
    def correct_option(self) -> Option:
        return next(o for o in self.options if o.correct)

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


class SimulationRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str = Field(min_length=3)
    shows: str = Field(min_length=10)


class FrontMatter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: int = Field(ge=0, le=9)
    slug: str = Field(pattern=r"^[a-z0-9-]+$")
    title: str = Field(min_length=3)
    promise: str = Field(min_length=10)
    simulations: list[SimulationRef] = []
    quiz: list[Question] = Field(min_length=3)

    @field_validator("quiz")
    @classmethod
    def _unique_question_ids(cls, quiz: list[Question]) -> list[Question]:
        ids = [q.id for q in quiz]
        if len(set(ids)) != len(ids):
            raise ValueError("quiz repeats a question id")
        return quiz


@dataclass(frozen=True)
class TocEntry:
    level: int
    anchor: str
    title: str


@dataclass(frozen=True)
class CodeBlock:
    """A fenced code block as written, for the tests that compile and run the samples."""

    language: str
    flags: tuple[str, ...]
    source: str
    line: int


@dataclass(frozen=True)
class Chapter:
    meta: FrontMatter
    path: Path
    html: str
    toc: tuple[TocEntry, ...]
    code_blocks: tuple[CodeBlock, ...]
    word_count: int

    @property
    def number(self) -> int:
        return self.meta.number

    @property
    def slug(self) -> str:
        return self.meta.slug

    @property
    def title(self) -> str:
        return self.meta.title

    @property
    def url(self) -> str:
        return f"/chapters/{self.slug}"

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.meta.quiz if q.id == question_id), None)


class Course:
    """The ten chapters, in order, with look-ups by slug."""

    def __init__(self, chapters: list[Chapter]):
        self.chapters = sorted(chapters, key=lambda c: c.number)
        self._by_slug = {c.slug: c for c in self.chapters}

    def get(self, slug: str) -> Chapter | None:
        return self._by_slug.get(slug)

    def neighbours(self, chapter: Chapter) -> tuple[Chapter | None, Chapter | None]:
        i = self.chapters.index(chapter)
        previous = self.chapters[i - 1] if i > 0 else None
        following = self.chapters[i + 1] if i + 1 < len(self.chapters) else None
        return previous, following


def _highlight(code: str, lang: str, attrs: str) -> str:
    try:
        lexer = get_lexer_by_name({"jsonl": "json"}.get(lang, lang or "text"))
    except ClassNotFound:
        lexer = TextLexer()
    body = highlight(code, lexer, HtmlFormatter(nowrap=True))
    runnable = "runnable" in attrs.split()
    label = escape(lang or "text") + (" · runs under test" if runnable else "")
    # Starts with <pre> so markdown-it uses it as is instead of wrapping it in another <pre>.
    return (
        f'<pre class="highlight code-block" data-label="{label}" tabindex="0">'
        f'<code class="language-{escape(lang)}">{body}</code></pre>\n'
    )


def _render_callout(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    if token.nesting != 1:
        return "</div></aside>\n"
    kind, _, title = token.info.strip().partition(" ")
    title = title.strip() or CALLOUT_TITLES[kind]
    return (
        f'<aside class="callout callout-{kind}" aria-label="{escape(title)}">'
        f'<p class="callout-title">{escape(title)}</p><div class="callout-body">\n'
    )


def mount_marker(kind: str, name: str) -> str:
    """The spot in a chapter's HTML where the page fills in a simulation's or a lab's widget."""
    return f"<!--{kind}:{name}-->"


def _render_mount(self, tokens, idx, options, env) -> str:
    """A placeholder where a simulation or a lab mounts; it names what it will show."""
    token = tokens[idx]
    if token.nesting != 1:
        return "</div></section>\n"
    kind, _, name = token.info.strip().partition(" ")
    name = name.strip()
    if kind == "simulation":
        ref = env["simulations"].get(name)
        if ref is None:
            raise ContentError(f"simulation {name!r} is placed in the text but not listed in the front matter")
        env["placed"].add(name)
        title, shows = ref.title, ref.shows
        label = "Simulation"
    else:
        if name not in LAB_TITLES:
            raise ContentError(f"unknown lab {name!r}; known labs: {', '.join(LAB_TITLES)}")
        title, shows, label = LAB_TITLES[name], LAB_PROMISES[name], "Lab"
    return (
        f'<section class="mount mount-{kind}" id="{kind}-{escape(name)}" data-{kind}="{escape(name)}" '
        f'aria-labelledby="{kind}-{escape(name)}-title">'
        f'<p class="mount-kind">{label}</p><h3 class="mount-title" id="{kind}-{escape(name)}-title">{escape(title)}</h3>'
        f'<p class="mount-shows">{escape(shows)}</p><div class="mount-body">'
        + mount_marker(kind, name)
        + "\n"
    )


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"highlight": _highlight, "html": False, "typographer": True})
    md.enable(["table", "replacements", "smartquotes"])
    anchors_plugin(md, min_level=2, max_level=3)
    for kind in CALLOUT_TITLES:
        container_plugin(md, kind, render=_render_callout)
    container_plugin(md, "simulation", render=_render_mount)
    container_plugin(md, "lab", render=_render_mount)
    return md


def _split_front_matter(text: str, path: Path) -> tuple[dict, str, int]:
    if not text.startswith("---\n"):
        raise ContentError(f"{path.name}: must start with a '---' front matter block")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise ContentError(f"{path.name}: front matter is not closed by a '---' line")
    try:
        data = yaml.safe_load(text[4:end])
    except yaml.YAMLError as exc:
        raise ContentError(f"{path.name}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ContentError(f"{path.name}: front matter must be a mapping")
    body_start_line = text[: end + 5].count("\n") + 1
    return data, text[end + 5 :], body_start_line


def _code_blocks(tokens, first_line: int) -> tuple[CodeBlock, ...]:
    blocks = []
    for token in tokens:
        if token.type == "fence":
            lang, *flags = token.info.split() or ["text"]
            line = first_line + (token.map[0] if token.map else 0)
            blocks.append(CodeBlock(lang, tuple(flags), token.content, line))
    return tuple(blocks)


def _table_of_contents(tokens) -> tuple[TocEntry, ...]:
    entries = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag in ("h2", "h3") and token.attrGet("id"):
            entries.append(TocEntry(int(token.tag[1]), token.attrGet("id"), tokens[i + 1].content))
    return tuple(entries)


def load_chapter(path: Path, md: MarkdownIt | None = None) -> Chapter:
    """Parse and check one chapter file; raise ContentError naming the file and the rule."""
    match = FILE_NAME.match(path.name)
    if not match:
        raise ContentError(f"{path.name}: chapter files are named NN-slug.md")
    data, body, body_line = _split_front_matter(path.read_text(encoding="utf-8"), path)
    try:
        meta = FrontMatter.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ContentError(f"{path.name}: {problems}") from exc
    if int(match.group(1)) != meta.number or match.group(2) != meta.slug:
        raise ContentError(f"{path.name}: file name must be {meta.number:02d}-{meta.slug}.md")

    md = md or _markdown()
    env = {"simulations": {s.name: s for s in meta.simulations}, "placed": set()}
    try:
        tokens = md.parse(body, env)
        html = md.renderer.render(tokens, md.options, env)
    except ContentError as exc:
        raise ContentError(f"{path.name}: {exc}") from exc
    missing = set(env["simulations"]) - env["placed"]
    if missing:
        raise ContentError(f"{path.name}: simulations listed but never placed: {', '.join(sorted(missing))}")
    prose = re.sub(r"```.*?```", " ", body, flags=re.S)
    return Chapter(
        meta=meta,
        path=path,
        html=html,
        toc=_table_of_contents(tokens),
        code_blocks=_code_blocks(tokens, body_line),
        word_count=len(re.findall(r"[A-Za-z0-9’'%$.,-]+", prose)),
    )


def load_course(directory: Path) -> Course:
    """Every chapter file in `directory`, checked, numbered 0..n-1 without gaps."""
    md = _markdown()
    chapters = [load_chapter(p, md) for p in sorted(directory.glob("[0-9][0-9]-*.md"))]
    numbers = [c.number for c in chapters]
    if numbers != list(range(len(chapters))):
        raise ContentError(f"{directory}: chapter numbers must run 0..{len(chapters) - 1}, found {numbers}")
    return Course(chapters)


def pygments_css() -> str:
    """Token colours for code blocks in the light and the dark theme."""
    # xcode and lightbulb keep every token colour at >= 4.5:1 contrast on our code backgrounds.
    light = HtmlFormatter(style="xcode").get_style_defs(":root .highlight")
    dark = HtmlFormatter(style="lightbulb").get_style_defs(':root[data-theme="dark"] .highlight')
    dark_auto = HtmlFormatter(style="lightbulb").get_style_defs(':root:not([data-theme="light"]) .highlight')
    return f"{light}\n{dark}\n@media (prefers-color-scheme: dark) {{\n{dark_auto}\n}}\n"
