"""LoRA parameter counter: exactly how many weights an adapter trains, per module and in total.

LoRA adds two small matrices beside each targeted linear layer: A of shape r x in and B of shape
out x r. So a targeted layer adds r·(in + out) trainable parameters, and the whole adapter adds

    trainable = layers x Σ over targeted modules of r·(in + out).

The in and out sizes come from the model's configuration. In a Llama-style decoder layer with hidden
size h, intermediate size m, n attention heads and g key/value heads (grouped-query attention), each
head is h / n wide and

    q_proj: h -> h        k_proj, v_proj: h -> g·h/n        o_proj: h -> h
    gate_proj, up_proj: h -> m                              down_proj: m -> h

For Llama-3.1-8B at r = 16 on all seven that is 1,310,720 per layer, 41,943,040 over 32 layers, the
number `print_trainable_parameters()` shows in the chapter.

The percentage is the one peft prints: trainable / (base model + adapter). The base model counts the
token embedding (vocab x h), the output head lm_head (vocab x h again, unless the model ties it to the
embedding, as Llama-3.2-1B, Qwen2.5-0.5B and SmolLM2-135M do), the attention and MLP weights above,
two RMSNorm weight vectors per layer plus a final one, and for Qwen2.5 the biases of q, k and v. The
counts match peft's `get_nb_trainable_parameters()` on the real architectures (this is tested).

Presets copy the published Hugging Face configurations. When the preset is not "custom", the preset's
dimensions win and the dimension sliders are ignored; "custom" uses the sliders with a Llama layout
(no attention biases, an untied output head). Only the targets and r are yours to choose either way.
"""

from dataclasses import dataclass

import numpy as np

from simulations import figures
from simulations.params import ParamError, bounded, choice, subset

NAME = "lora-params"
CHAPTER = 3
TITLE = "LoRA trainable parameters"

MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
RANKS_SHOWN = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class Architecture:
    """The dimensions of a Llama-family decoder that decide its parameter count."""

    label: str
    family: str  # "llama", "mistral" or "qwen2": the transformers config class that builds it
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_attention_heads: int
    num_kv_heads: int
    vocab_size: int
    tie_word_embeddings: bool = False
    attention_bias: bool = False  # Qwen2 has biases on q, k and v

    @property
    def kv_size(self) -> int:
        return self.num_kv_heads * (self.hidden_size // self.num_attention_heads)

    def module_shapes(self) -> dict[str, tuple[int, int]]:
        """(in_features, out_features) of each linear layer in one decoder layer."""
        h, m, kv = self.hidden_size, self.intermediate_size, self.kv_size
        return {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
                "gate_proj": (h, m), "up_proj": (h, m), "down_proj": (m, h)}

    def base_params(self) -> int:
        """Every weight of the model, counting a tied embedding and output head once."""
        h = self.hidden_size
        linear = sum(i * o for i, o in self.module_shapes().values())
        norms = 2 * h  # input_layernorm and post_attention_layernorm
        biases = h + 2 * self.kv_size if self.attention_bias else 0
        embeddings = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        return self.num_layers * (linear + norms + biases) + embeddings + h  # + the final norm

    def linear_params(self) -> int:
        """Weights in the decoder layers' linear modules: the ones 4-bit quantization applies to."""
        return self.num_layers * sum(i * o for i, o in self.module_shapes().values())

    def lora_params(self, r: int, targets: tuple[str, ...] = MODULES) -> dict[str, int]:
        """Trainable LoRA parameters per targeted module type, summed over all layers."""
        shapes = self.module_shapes()
        return {name: self.num_layers * r * sum(shapes[name]) for name in targets}


PRESETS: dict[str, Architecture] = {
    "llama-3.1-8b": Architecture("Llama-3.1-8B", "llama", 4096, 14336, 32, 32, 8, 128256),
    "llama-3.2-1b": Architecture("Llama-3.2-1B", "llama", 2048, 8192, 16, 32, 8, 128256, tie_word_embeddings=True),
    "llama-2-7b": Architecture("Llama-2-7B", "llama", 4096, 11008, 32, 32, 32, 32000),
    "mistral-7b": Architecture("Mistral-7B-v0.3", "mistral", 4096, 14336, 32, 32, 8, 32768),
    "qwen2.5-7b": Architecture("Qwen2.5-7B", "qwen2", 3584, 18944, 28, 28, 4, 152064, attention_bias=True),
    "qwen2.5-0.5b": Architecture("Qwen2.5-0.5B", "qwen2", 896, 4864, 24, 14, 2, 151936,
                                 tie_word_embeddings=True, attention_bias=True),
    "smollm2-135m": Architecture("SmolLM2-135M", "llama", 576, 1536, 30, 9, 3, 49152, tie_word_embeddings=True),
}


def llama_like(size_billions: float) -> Architecture:
    """A Llama-3-shaped model of about `size_billions` parameters, for when only the size is known.

    A Llama-3 decoder layer holds about 13·h² weights (attention 2.5·h² with 4x grouped-query
    attention, MLP 3·h·3.5h) and these models keep h ≈ 128 x layers, so size ≈ 13·h³/128. We round
    h to a multiple of 512: 7-8 billion gives exactly Llama-3.1-8B's h = 4096 and 32 layers.
    """
    hidden = max(512, 512 * round((128 * size_billions * 1e9 / 13) ** (1 / 3) / 512))
    heads = hidden // 128
    return Architecture(f"{size_billions:g}B Llama-like", "llama", hidden, 7 * hidden // 2, hidden // 128,
                        heads, max(1, heads // 4), 128256)


@dataclass(frozen=True)
class Params:
    preset: str = choice("llama-3.1-8b", (*PRESETS, "custom"), description=(
        "A published model whose dimensions to use, or custom to set them yourself."),
        labels={**{key: arch.label for key, arch in PRESETS.items()}, "custom": "Custom dimensions"},
        title="Model")
    hidden_size: int = bounded(4096, ge=64, le=16384, step=64,
                               description="Width of the residual stream (custom only).")
    intermediate_size: int = bounded(14336, ge=64, le=65536, step=64,
                                     description="Width of the MLP's hidden layer (custom only).")
    num_layers: int = bounded(32, ge=1, le=128, step=1, description="Decoder layers (custom only).")
    num_attention_heads: int = bounded(32, ge=1, le=128, step=1,
                                       description="Query heads; must divide the hidden size (custom only).")
    num_kv_heads: int = bounded(8, ge=1, le=128, step=1,
                                description="Key/value heads; must divide the query heads (custom only).")
    vocab_size: int = bounded(128256, ge=1000, le=262144, step=1, description="Tokens in the vocabulary (custom only).")
    r: int = bounded(16, ge=1, le=256, step=1, title="Rank r", description="LoRA rank.")
    targets: str = subset(",".join(MODULES), MODULES,
                          description="Comma-separated linear modules that get a LoRA adapter.",
                          title="Target modules")

    def __post_init__(self) -> None:
        if self.preset != "custom":
            return
        if self.hidden_size % self.num_attention_heads:
            raise ParamError("num_attention_heads", (
                f"num_attention_heads must divide hidden_size {self.hidden_size} (got {self.num_attention_heads})"))
        if self.num_attention_heads % self.num_kv_heads:
            raise ParamError("num_kv_heads", (
                f"num_kv_heads must divide num_attention_heads {self.num_attention_heads} (got {self.num_kv_heads})"))

    def architecture(self) -> Architecture:
        if self.preset != "custom":
            return PRESETS[self.preset]
        return Architecture("Custom model", "llama", self.hidden_size, self.intermediate_size, self.num_layers,
                            self.num_attention_heads, self.num_kv_heads, self.vocab_size)


@dataclass(frozen=True)
class Result:
    model: str
    r: int
    targets: tuple[str, ...]
    per_module: dict[str, int]  # trainable parameters per targeted module type, all layers
    trainable_params: int
    base_params: int
    total_params: int  # base + adapter, as peft counts "all params"
    trainable_percent: float
    ranks: np.ndarray  # RANKS_SHOWN
    trainable_percent_by_rank: np.ndarray  # the same targets at each rank in `ranks`


def simulate(params: Params) -> Result:
    arch = params.architecture()
    targets = tuple(params.targets.split(","))
    per_module = arch.lora_params(params.r, targets)
    trainable = sum(per_module.values())
    base = arch.base_params()
    ranks = np.array(RANKS_SHOWN)
    per_rank = ranks * (trainable // params.r)  # the count is linear in r
    return Result(
        model=arch.label,
        r=params.r,
        targets=targets,
        per_module=per_module,
        trainable_params=trainable,
        base_params=base,
        total_params=base + trainable,
        trainable_percent=100 * trainable / (base + trainable),
        ranks=ranks,
        trainable_percent_by_rank=100 * per_rank / (base + per_rank),
    )


def figure(result: Result) -> dict:
    names = list(MODULES)
    counts = [result.per_module.get(name, 0) for name in names]
    colors = [figures.FINE_TUNED if name in result.per_module else figures.MUTED for name in names]
    data = [
        {"type": "bar", "orientation": "h", "name": "Trainable parameters per module type", "y": names, "x": counts,
         "marker": {"color": colors}, "text": [f"{count:,}" if count else "not targeted" for count in counts],
         "textposition": "auto", "hovertemplate": "%{y}: %{x:,} trainable<extra></extra>"},
        {"type": "scatter", "mode": "lines+markers", "name": "Trainable % at each rank (same targets)",
         "x": result.ranks.tolist(), "y": result.trainable_percent_by_rank.tolist(), "xaxis": "x2", "yaxis": "y2",
         "line": {"color": figures.ACCENT, "width": 2}, "hovertemplate": "r = %{x}: %{y:.2f}%<extra></extra>"},
        {"type": "scatter", "mode": "markers", "name": f"r = {result.r}: {result.trainable_percent:.2f}%",
         "x": [result.r], "y": [result.trainable_percent], "xaxis": "x2", "yaxis": "y2",
         "marker": {"color": figures.FINE_TUNED, "size": 12}, "hovertemplate": "r = %{x}: %{y:.2f}%<extra></extra>"},
    ]
    layout = figures.base_layout(
        f"{result.model}: {result.trainable_params:,} trainable of {result.total_params:,} parameters",
        "Trainable parameters (all layers)", "", hovermode="closest",
        xaxis2=figures.axis("LoRA rank r", domain=[0.62, 1.0], anchor="y2", type="log",
                            tickvals=list(RANKS_SHOWN)),
        yaxis2=figures.axis("Trainable (% of all parameters)", anchor="x2", type="log"),
    )
    layout["xaxis"]["domain"] = [0.0, 0.48]
    layout["yaxis"]["autorange"] = "reversed"  # q_proj on top, in the order of the layer
    return {"data": data, "layout": layout}


def headline(result: Result) -> str:
    return (f"LoRA r={result.r} on {len(result.targets)} module types trains {result.trainable_params:,} "
            f"parameters, {result.trainable_percent:.2f}% of {result.model}.")
