"""GPU memory for fine-tuning: full fine-tuning vs LoRA vs QLoRA, broken into what takes the space.

Training memory has five parts. Sizes are in GB of 10^9 bytes, as the spec counts them.

Weights. 16-bit (bf16) weights take 2 bytes per parameter. QLoRA stores the decoder's linear layers
in 4-bit NormalFloat (NF4): 0.5 bytes per parameter. The token embedding, the output head and the
norms stay in 16-bit, as bitsandbytes leaves them, so presets are more exact than a bare size.

Quantization constants. NF4 scales each block of 64 weights by its absolute maximum, stored as a
32-bit float: 32 / 64 = 0.5 extra bits per parameter. Double quantization stores those constants in
8 bits and adds one 32-bit constant per 256 blocks: 8 / 64 + 32 / (64 x 256) ≈ 0.127 bits.

Gradients and optimizer state. Full fine-tuning keeps a 16-bit gradient for every weight (2 bytes)
and Adam's two moment estimates in 32-bit (8 bytes). That is the spec's arithmetic, 2 + 2 + 8 = 12
bytes per parameter, so 7 billion parameters need 84 GB. (Mixed-precision training usually adds a
32-bit master copy of the weights, 4 more bytes, which would make it 112 GB.) LoRA and QLoRA train
only the adapter: its parameters are kept in 32-bit with 32-bit gradients and Adam state, 16 bytes
each, for an adapter on all seven linear modules at rank r.

Activations. We assume gradient checkpointing and FlashAttention, the usual setup for fine-tuning on
one GPU: each layer keeps its 16-bit input (2·s·b·h bytes for sequence length s, batch b, hidden size h)
and one layer at a time is recomputed, needing about 34·s·b·h bytes (Korthikanti et al., 2022, without
the attention-score term that FlashAttention avoids). The logits and their gradient in 32-bit add
8·s·b·vocab bytes, which is large for Llama-3's 128,256-token vocabulary. Activations are the same for
every method: backpropagation passes through the frozen layers too.

Not counted: the CUDA context and framework overhead (about 0.5-1 GB), memory fragmentation, and
optimizer tricks such as 8-bit or paged Adam. A bare model size uses a Llama-3-like shape (see the
LoRA parameter counter) for the activations and the adapter, and counts every parameter as quantizable.

Your run. A learner's run arrives as plain data: its parameter counts, quantization and measured peak memory
(peak allocated GPU memory, or peak resident memory on a CPU). `predict_run()` applies the same byte counts to
that configuration (activations aside: the run's shapes are not known here), and the chart sets the measured
peak beside the prediction: the difference is what the model leaves out, the runtime and framework, which is
most of it for a model as small as the course's default base.
"""

from dataclasses import dataclass

from simulations import figures
from simulations.lora_params import MODULES, PRESETS, Architecture, llama_like
from simulations.params import bounded, choice

NAME = "vram"
CHAPTER = 3
TITLE = "GPU memory for fine-tuning"

METHODS = ("full-adam", "lora-bf16", "qlora-nf4", "qlora-nf4-dq")
METHOD_LABELS = {"full-adam": "Full fine-tune (Adam)", "lora-bf16": "LoRA (bf16 base)",
                 "qlora-nf4": "QLoRA (NF4)", "qlora-nf4-dq": "QLoRA (NF4 + double quant)"}
PARTS = ("weights", "quantization_constants", "gradients", "optimizer", "activations")
PART_LABELS = {"weights": "Weights", "quantization_constants": "Quantization constants",
               "gradients": "Gradients", "optimizer": "Optimizer state", "activations": "Activations"}
PART_COLORS = {"weights": figures.ACCENT, "quantization_constants": figures.EXTRA[1],
               "gradients": figures.WARNING, "optimizer": figures.PROMPTING, "activations": figures.FINE_TUNED}
GPU_LINES_GB = (24, 80)

GB = 1e9
NF4_BYTES = 4 / 8
NF4_CONSTANT_BYTES = (32 / 64) / 8  # one fp32 absmax per 64 weights
DOUBLE_QUANT_CONSTANT_BYTES = (8 / 64 + 32 / (64 * 256)) / 8  # 8-bit absmax, one fp32 per 256 blocks
ADAPTER_BYTES = 4  # LoRA weights, gradients and each Adam moment in fp32


@dataclass(frozen=True)
class Params:
    preset: str = choice("custom", (*PRESETS, "custom"), title="Model", description=(
        "A published model, or custom to use the model size slider with a Llama-3-like shape."),
        labels={**{key: arch.label for key, arch in PRESETS.items()}, "custom": "By size (slider)"})
    model_size_b: float = bounded(7.0, ge=0.1, le=405, step=0.1, unit="billion parameters", scale="log",
                                  title="Model size (B params)", description="Parameters in billions (custom only).")
    method: str = choice("qlora-nf4-dq", METHODS, labels=METHOD_LABELS, description="How the model is fine-tuned.")
    seq_len: int = bounded(512, ge=128, le=32768, step=128, unit="tokens", scale="log", title="Sequence length",
                           description="Tokens per training sequence.")
    batch_size: int = bounded(1, ge=1, le=64, step=1, description="Sequences per step on the GPU.")
    r: int = bounded(16, ge=1, le=256, step=1, title="LoRA rank r",
                     description="Adapter rank (LoRA and QLoRA), on all seven linear modules.")


@dataclass(frozen=True)
class Result:
    model: str
    from_preset: bool
    method: str
    params_billions: float
    breakdown: dict[str, dict[str, float]]  # method -> part -> GB, for all four methods
    selected: dict[str, float]  # part -> GB for the chosen method
    total_gb: float
    loaded_gb: float  # weights + quantization constants: the memory after loading, before training


def _architecture(params: Params) -> tuple[Architecture, float, float]:
    """The shape, the total parameter count and the count in quantizable linear layers."""
    if params.preset == "custom":
        count = params.model_size_b * 1e9
        return llama_like(params.model_size_b), count, count
    arch = PRESETS[params.preset]
    return arch, float(arch.base_params()), float(arch.linear_params())


def _breakdown(method: str, total: float, linear: float, adapter: float, activations: float) -> dict[str, float]:
    if method == "full-adam":
        parts = {"weights": 2 * total, "quantization_constants": 0.0, "gradients": 2 * total,
                 "optimizer": 8 * total}
    else:
        frozen = 2 * total if method == "lora-bf16" else NF4_BYTES * linear + 2 * (total - linear)
        constants = {"lora-bf16": 0.0, "qlora-nf4": NF4_CONSTANT_BYTES,
                     "qlora-nf4-dq": DOUBLE_QUANT_CONSTANT_BYTES}[method] * linear
        parts = {"weights": frozen + ADAPTER_BYTES * adapter, "quantization_constants": constants,
                 "gradients": ADAPTER_BYTES * adapter, "optimizer": 2 * ADAPTER_BYTES * adapter}
    parts["activations"] = activations
    return {part: parts[part] / GB for part in PARTS}


def simulate(params: Params) -> Result:
    arch, total, linear = _architecture(params)
    adapter = sum(arch.lora_params(params.r, MODULES).values())
    tokens = params.seq_len * params.batch_size
    h = arch.hidden_size
    activations = tokens * (2 * h * arch.num_layers + 34 * h + 8 * arch.vocab_size)
    breakdown = {method: _breakdown(method, total, linear, adapter, activations) for method in METHODS}
    selected = breakdown[params.method]
    return Result(
        model=arch.label if params.preset != "custom" else f"a {params.model_size_b:g}B model",
        from_preset=params.preset != "custom",
        method=params.method,
        params_billions=total / 1e9,
        breakdown=breakdown,
        selected=selected,
        total_gb=sum(selected.values()),
        loaded_gb=selected["weights"] + selected["quantization_constants"],
    )


def figure(result: Result, measured: dict | None = None) -> dict:
    if measured is not None:
        return measured_figure(measured)
    labels = [METHOD_LABELS[method] for method in METHODS]
    data = [
        {"type": "bar", "name": PART_LABELS[part], "x": labels,
         "y": [round(result.breakdown[method][part], 3) for method in METHODS],
         "marker": {"color": PART_COLORS[part]}, "hovertemplate": "%{y:.2f} GB"}
        for part in PARTS
    ]
    totals = [sum(result.breakdown[method].values()) for method in METHODS]
    top = max(max(totals), max(GPU_LINES_GB)) * 1.12
    annotations = [
        {"x": label, "y": total, "yanchor": "bottom", "showarrow": False, "text": f"<b>{total:.1f} GB</b>"
         if method == result.method else f"{total:.1f} GB", "font": {"size": 13}}
        for label, total, method in zip(labels, totals, METHODS)
    ]
    annotations += [{"x": 1, "xref": "paper", "xanchor": "right", "y": limit, "yanchor": "bottom",
                     "showarrow": False, "text": f"{limit} GB GPU", "font": {"color": figures.WARNING}}
                    for limit in GPU_LINES_GB]
    layout = figures.base_layout(
        f"Training memory for {result.model}" + (f" ({result.params_billions:.2f}B parameters)"
                                                 if result.from_preset else ""),
        "", "GPU memory (GB)",
        barmode="stack", annotations=annotations,
        shapes=[figures.horizontal_line(limit, figures.WARNING) for limit in GPU_LINES_GB],
    )
    layout["yaxis"]["range"] = [0, top]
    # Bold the chosen method's tick so the chart says which bar the headline is about.
    layout["xaxis"].update(tickvals=labels, ticktext=[f"<b>{label}</b>" if method == result.method else label
                                                     for label, method in zip(labels, METHODS)])
    return {"data": data, "layout": layout}


def predict_run(measured: dict) -> dict[str, float]:
    """The byte counts above for a run's own configuration, in MB (10^6 bytes), activations not counted."""
    adapter = float(measured.get("trainable_params") or 0)  # a run from before these were recorded: 0
    frozen = float(measured.get("total_params") or 0) - adapter
    quantization = measured.get("quantization") or "none"
    if quantization.startswith(("nf4", "fp4")):
        weights = NF4_BYTES * frozen
        per_weight = DOUBLE_QUANT_CONSTANT_BYTES if "double_quant" in quantization else NF4_CONSTANT_BYTES
        constants = per_weight * frozen
    else:
        weights = (4 if measured.get("device") == "cpu" else 2) * frozen  # the CPU labs compute in fp32
        constants = 0.0
    parts = {"weights": weights + ADAPTER_BYTES * adapter, "quantization_constants": constants,
             "gradients": ADAPTER_BYTES * adapter, "optimizer": 2 * ADAPTER_BYTES * adapter}
    return {part: value / 1e6 for part, value in parts.items()}


def measured_figure(measured: dict) -> dict:
    predicted = predict_run(measured)
    peak = float(measured["peak_memory_mb"])
    data = [{"type": "bar", "name": PART_LABELS[part] + " (predicted)", "x": ["Predicted for your run"],
             "y": [predicted[part]], "marker": {"color": PART_COLORS[part]}, "hovertemplate": "%{y:.2f} MB"}
            for part in predicted]
    data.append({"type": "bar", "name": "Your run: measured peak", "x": ["Measured"], "y": [peak],
                 "marker": {"color": figures.EXTRA[3]}, "hovertemplate": "%{y:.1f} MB"})
    where = "peak resident memory (CPU)" if measured.get("device") == "cpu" else "peak allocated GPU memory"
    layout = figures.base_layout(f"Your run: the model's prediction vs the measured {where}", "", "Memory (MB)",
                                 barmode="stack")
    layout["yaxis"]["rangemode"] = "tozero"
    return {"data": data, "layout": layout}


def measured_headline(measured: dict) -> str:
    predicted = sum(predict_run(measured).values())
    peak = float(measured["peak_memory_mb"])
    return (f"Your run peaked at {peak:,.0f} MB on {measured.get('device', 'its device')}; the model's parts for "
            f"its {int(measured.get('total_params') or 0):,} parameters ({measured.get('quantization')}) add up to "
            f"{predicted:,.1f} MB, so {max(0.0, peak - predicted):,.0f} MB is what the model leaves out: the runtime, "
            f"the framework and the activations.")


def fit_text(total_gb: float) -> str:
    if total_gb <= GPU_LINES_GB[0]:
        return f"fits a {GPU_LINES_GB[0]} GB GPU"
    if total_gb <= GPU_LINES_GB[1]:
        return f"needs an {GPU_LINES_GB[1]} GB GPU"
    return f"needs more than one {GPU_LINES_GB[1]} GB GPU"


def headline(result: Result, measured: dict | None = None) -> str:
    if measured is not None:
        return measured_headline(measured)
    return (f"{METHOD_LABELS[result.method]} of {result.model} needs about {result.total_gb:.1f} GB: "
            f"{fit_text(result.total_gb)}.")
