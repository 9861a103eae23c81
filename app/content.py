"""Loads the course from `chapters/*.md`: front matter checked, Markdown rendered once at start-up.

Rendering happens here so a page request only fills a template. A broken chapter file stops the
server at start with the file and the rule it breaks, never at request time.
"""

import re
from dataclasses import dataclass, field
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

from app.capstone.schema import CapstoneMatter
from app.exercises.checker import AnswerError, check
from app.exercises.schema import Exercise, JsonlExercise, NumberExercise, TextExercise

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
    "serving": "Serving lab: one base, many adapters",
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
    "serving": "Send one prompt at once to a base model and to your own adapters on it, read the answers side by "
    "side with their timings, see how the server batched them, and call the same models from the openai client.",
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
    exercises: list[Exercise] = []

    @field_validator("quiz")
    @classmethod
    def _unique_question_ids(cls, quiz: list[Question]) -> list[Question]:
        ids = [q.id for q in quiz]
        if len(set(ids)) != len(ids):
            raise ValueError("quiz repeats a question id")
        return quiz

    @field_validator("exercises")
    @classmethod
    def _unique_exercise_ids(cls, exercises: list) -> list:
        ids = [e.id for e in exercises]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"exercise {repeated[0]!r}: id is used twice in this chapter")
        return exercises


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
class ExerciseHtml:
    """An exercise's prompt and worked solution, rendered from Markdown once at start-up."""

    prompt: str
    solution: str


@dataclass(frozen=True)
class Chapter:
    meta: FrontMatter
    path: Path
    html: str
    toc: tuple[TocEntry, ...]
    code_blocks: tuple[CodeBlock, ...]
    word_count: int
    exercise_html: dict[str, ExerciseHtml] = field(default_factory=dict)

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

    def exercise(self, exercise_id: str) -> NumberExercise | JsonlExercise | TextExercise | None:
        return next((e for e in self.meta.exercises if e.id == exercise_id), None)


@dataclass(frozen=True)
class Capstone:
    """The project after the last chapter (not a chapter: it has no number, quiz or exercises)."""

    meta: CapstoneMatter
    html: str
    toc: tuple[TocEntry, ...]
    stage_anchors: dict[str, str]  # stage id → the anchor of its `##` section in the text
    url: str = "/capstone"


class Course:
    """The ten chapters, in order, with look-ups by slug; and the capstone that follows them."""

    def __init__(self, chapters: list[Chapter], capstone: Capstone | None = None):
        self.chapters = sorted(chapters, key=lambda c: c.number)
        self._by_slug = {c.slug: c for c in self.chapters}
        self.capstone = capstone

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
    flags = attrs.split()
    if "output" in flags:
        label = "output of the block above"
    else:
        label = escape(lang or "text") + (" · runs under test" if "runnable" in flags else "")
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


FIGURE_NAME = re.compile(r"^[a-z0-9-]+$")
# A diagram is inlined so that it follows the page's theme (currentColor and CSS custom properties); a file
# with a script, an event handler, a style element or a link elsewhere would break the page's CSP or privacy.
UNSAFE_SVG = re.compile(r"<script|<style|<foreignObject|\son[a-z]+\s*=|(?:href|src)\s*=\s*[\"'](?!#)", re.I)


def load_figure(directory: Path, name: str) -> str:
    """The SVG `directory/figures/<name>.svg`, checked, without its XML prolog, ready to inline."""
    if not FIGURE_NAME.match(name):
        raise ContentError(f"figure name {name!r} must be lowercase letters, digits and hyphens")
    path = directory / "figures" / f"{name}.svg"
    try:
        svg = path.read_text(encoding="utf-8")
    except OSError:
        raise ContentError(f"figure {name!r} is placed in the text but {path.name} is missing") from None
    svg = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", svg)
    if not svg.startswith("<svg") or UNSAFE_SVG.search(svg):
        raise ContentError(f"figure {name!r}: {path.name} must be a plain <svg> without scripts, styles or links")
    if 'role="img"' not in svg or "<title" not in svg or "<desc" not in svg:
        raise ContentError(f"figure {name!r}: {path.name} needs role=\"img\", a <title> and a <desc>")
    return svg


def _render_figure(self, tokens, idx, options, env) -> str:
    """A diagram from chapters/figures, inlined; the container's text becomes its visible caption."""
    token = tokens[idx]
    if token.nesting != 1:
        return "</figcaption></figure>\n"
    name = token.info.strip().partition(" ")[2].strip()
    svg = load_figure(env["chapter_dir"], name)
    return f'<figure class="diagram" id="figure-{escape(name)}">{svg}<figcaption>\n'


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"highlight": _highlight, "html": False, "typographer": True})
    md.enable(["table", "replacements", "smartquotes"])
    anchors_plugin(md, min_level=2, max_level=3)
    for kind in CALLOUT_TITLES:
        container_plugin(md, kind, render=_render_callout)
    container_plugin(md, "simulation", render=_render_mount)
    container_plugin(md, "lab", render=_render_mount)
    container_plugin(md, "figure", render=_render_figure)
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


def _validate(model: type[BaseModel], data: dict, path: Path):
    """`data` as a `model`, or a ContentError listing every problem with where it is."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe_error(e, data) for e in exc.errors())
        raise ContentError(f"{path.name}: {problems}") from exc


def _describe_error(error: dict, data: dict) -> str:
    """'quiz.0.options: …', or for an exercise 'exercise 'lora-params' (exercises.2): answer: …'."""
    loc = list(error["loc"])
    if len(loc) >= 2 and loc[0] == "exercises" and isinstance(loc[1], int):
        entry = (data.get("exercises") or [None] * (loc[1] + 1))[loc[1]]
        name = entry.get("id") if isinstance(entry, dict) else None
        # loc[2] is the union's tag ("number", "jsonl", "text"): the kind, not a field the author wrote.
        field = ".".join(map(str, loc[3:] if len(loc) > 2 and loc[2] == (entry or {}).get("kind") else loc[2:]))
        where = f"exercise {name!r} (exercises.{loc[1]})" if name else f"exercises.{loc[1]}"
        return f"{where}: {field + ': ' if field else ''}{error['msg']}"
    return f"{'.'.join(map(str, loc))}: {error['msg']}"


def _render_snippet(md: MarkdownIt, text: str) -> str:
    """A short piece of Markdown (an exercise's prompt or solution); no simulations or labs in it."""
    return md.render(text, {"simulations": {}, "placed": set()})


def _check_reference_answers(meta: FrontMatter, path: Path) -> None:
    """Every exercise's own answer must pass its checker, so no learner meets an unsolvable exercise."""
    for exercise in meta.exercises:
        own = exercise.target if isinstance(exercise, NumberExercise) else exercise.reference_answer
        try:
            verdict = check(exercise, own)
        except AnswerError as exc:
            raise ContentError(f"{path.name}: exercise {exercise.id!r}: reference answer refused: {exc}") from exc
        if not verdict.correct:
            raise ContentError(
                f"{path.name}: exercise {exercise.id!r}: reference answer is not accepted: {verdict.feedback}"
            )


def load_chapter(path: Path, md: MarkdownIt | None = None) -> Chapter:
    """Parse and check one chapter file; raise ContentError naming the file and the rule."""
    match = FILE_NAME.match(path.name)
    if not match:
        raise ContentError(f"{path.name}: chapter files are named NN-slug.md")
    data, body, body_line = _split_front_matter(path.read_text(encoding="utf-8"), path)
    meta = _validate(FrontMatter, data, path)
    _check_reference_answers(meta, path)
    if int(match.group(1)) != meta.number or match.group(2) != meta.slug:
        raise ContentError(f"{path.name}: file name must be {meta.number:02d}-{meta.slug}.md")

    md = md or _markdown()
    env = {"simulations": {s.name: s for s in meta.simulations}, "placed": set(), "chapter_dir": path.parent}
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
        exercise_html={
            e.id: ExerciseHtml(_render_snippet(md, e.prompt), _render_snippet(md, e.solution)) for e in meta.exercises
        },
    )


def load_capstone(path: Path, md: MarkdownIt | None = None) -> Capstone:
    """Parse and check the capstone file; raise ContentError naming the file and the rule."""
    data, body, _line = _split_front_matter(path.read_text(encoding="utf-8"), path)
    meta = _validate(CapstoneMatter, data, path)
    md = md or _markdown()
    try:
        tokens = md.parse(body, {"simulations": {}, "placed": set()})
        html = md.renderer.render(tokens, md.options, {"simulations": {}, "placed": set()})
    except ContentError as exc:
        raise ContentError(f"{path.name}: {exc}") from exc
    toc = _table_of_contents(tokens)
    anchors = {entry.title: entry.anchor for entry in toc if entry.level == 2}
    missing = [stage.title for stage in meta.stages if stage.title not in anchors]
    if missing:
        raise ContentError(f"{path.name}: each stage needs a '## {missing[0]}' section in the text")
    return Capstone(meta=meta, html=html, toc=toc, stage_anchors={s.id: anchors[s.title] for s in meta.stages})


def load_course(directory: Path) -> Course:
    """Every chapter file in `directory`, checked, numbered 0..n-1 without gaps; and `capstone.md` if there."""
    md = _markdown()
    chapters = [load_chapter(p, md) for p in sorted(directory.glob("[0-9][0-9]-*.md"))]
    numbers = [c.number for c in chapters]
    if numbers != list(range(len(chapters))):
        raise ContentError(f"{directory}: chapter numbers must run 0..{len(chapters) - 1}, found {numbers}")
    capstone_path = directory / "capstone.md"
    return Course(chapters, load_capstone(capstone_path, md) if capstone_path.exists() else None)


def pygments_css() -> str:
    """Token colours for code blocks in the light and the dark theme."""
    # xcode and lightbulb keep every token colour at >= 4.5:1 contrast on our code backgrounds.
    light = HtmlFormatter(style="xcode").get_style_defs(":root .highlight")
    dark = HtmlFormatter(style="lightbulb").get_style_defs(':root[data-theme="dark"] .highlight')
    dark_auto = HtmlFormatter(style="lightbulb").get_style_defs(':root:not([data-theme="light"]) .highlight')
    return f"{light}\n{dark}\n@media (prefers-color-scheme: dark) {{\n{dark_auto}\n}}\n"
