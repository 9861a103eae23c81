"""Multi-LoRA serving: one base model and many adapters instead of many merged models.

Twenty customers with twenty fine-tuned models can be served two ways. Merged: bake each adapter into
its own copy of the base model (W' = W + A×B) and deploy every copy; memory grows by a whole model
per tenant. Multi-LoRA (vLLM, LoRAX, S-LoRA): load the base model once and keep every tenant's small
adapter beside it; each request names its adapter and the server applies it on the fly.

Memory model, weights only, in GB of 10^9 bytes:

    merged    = tenants x base parameters x 2 bytes (bf16)
    multi-LoRA = base parameters x 2 bytes + tenants x adapter parameters x 2 bytes

The adapter has LoRA on all seven linear modules at rank r of a Llama-3-like model of the chosen size
(the same shape rule as the LoRA parameter counter: 8 billion parameters gives Llama-3.1-8B exactly,
where a rank-16 adapter holds 41.9 million parameters, 84 MB). The ratio merged / multi-LoRA tends to
the number of tenants, because the adapters are tiny next to the base. Not counted: the KV cache and
activations, which depend on traffic, not on how many tenants there are, and which both set-ups need.

The routing diagram follows a sample of requests: each tenant sends about the chosen number of
requests (one plus a Poisson draw from a seeded generator, so some tenants are busier than
others); every request goes to its own tenant's adapter, and every adapter runs on the one shared
base model, in the same batches. Adapter switching is cheap because only the adapter's few megabytes differ.
"""

from dataclasses import dataclass

import numpy as np

from simulations import figures
from simulations.lora_params import MODULES, llama_like
from simulations.params import bounded

NAME = "multi-lora"
CHAPTER = 6
TITLE = "Multi-LoRA serving"

BYTES_PER_PARAM = 2  # bf16 weights, for the base and the adapters alike
GB = 1e9


@dataclass(frozen=True)
class Params:
    tenants: int = bounded(15, ge=1, le=50, step=1, description="Customers, each with their own fine-tuned model.")
    base_size_b: float = bounded(8.0, ge=0.1, le=405, step=0.1, scale="log", unit="billion parameters",
                                 title="Base model size (B params)",
                                 description="Parameters of the base model, in billions.")
    r: int = bounded(16, ge=1, le=256, step=1, title="Adapter rank r",
                     description="LoRA rank of every adapter (all seven linear modules).")
    requests_per_tenant: int = bounded(3, ge=1, le=20, step=1,
                                       description="Average requests per tenant in the routing sample.")
    seed: int = bounded(0, ge=0, le=9999, step=1, description="Random seed of the request sample.")


@dataclass(frozen=True)
class Result:
    tenants: int
    base_gb: float
    adapter_params: int
    adapter_mb: float
    merged_gb: float
    multi_lora_gb: float
    ratio: float  # merged / multi-LoRA
    requests: np.ndarray  # (tenants,) requests per tenant in the routing sample


def simulate(params: Params) -> Result:
    arch = llama_like(params.base_size_b)
    adapter = sum(arch.lora_params(params.r, MODULES).values())
    base_gb = params.base_size_b * 1e9 * BYTES_PER_PARAM / GB
    adapter_gb = adapter * BYTES_PER_PARAM / GB
    merged = params.tenants * base_gb
    multi = base_gb + params.tenants * adapter_gb
    rng = np.random.default_rng(params.seed)
    return Result(
        tenants=params.tenants,
        base_gb=base_gb,
        adapter_params=adapter,
        adapter_mb=adapter_gb * 1000,
        merged_gb=merged,
        multi_lora_gb=multi,
        ratio=merged / multi,
        # At least one request each, so that every tenant appears in the routing diagram.
        requests=1 + rng.poisson(params.requests_per_tenant - 1, params.tenants),
    )


def _routing(result: Result) -> dict:
    """A Sankey diagram: tenant -> its adapter -> the one shared base model (links sized by requests)."""
    n = result.tenants
    colors = [(figures.ACCENT, *figures.EXTRA[:2], figures.WARNING)[k % 4] for k in range(n)]
    labels = [f"Tenant {k + 1}" for k in range(n)] + [f"adapter {k + 1}" for k in range(n)] + ["Base model (shared)"]
    base = 2 * n
    return {
        "type": "sankey", "name": "Routing", "domain": {"x": [0.42, 1.0], "y": [0.0, 1.0]},
        "arrangement": "fixed", "valueformat": "d", "valuesuffix": " requests",
        "node": {"label": labels, "pad": 4, "thickness": 12,
                 "color": colors + [figures.FINE_TUNED] * n + [figures.MUTED]},
        "link": {"source": [*range(n), *range(n, 2 * n)],
                 "target": [*range(n, 2 * n), *([base] * n)],
                 "value": [*result.requests.tolist(), *result.requests.tolist()],
                 "color": "rgba(0,114,178,0.25)"},
    }


def figure(result: Result) -> dict:
    adapters_gb = result.multi_lora_gb - result.base_gb
    hover = "%{y:.1f} GB<extra>%{fullData.name}</extra>"
    bars = ["Merged copies", "One base + adapters"]
    data = [
        {"type": "bar", "name": "Base model weights", "x": bars, "y": [result.merged_gb, result.base_gb],
         "marker": {"color": figures.MUTED}, "hovertemplate": hover},
        {"type": "bar", "name": "Adapters", "x": bars, "y": [0, adapters_gb],
         "marker": {"color": figures.FINE_TUNED}, "hovertemplate": hover},
        _routing(result),
    ]
    layout = figures.base_layout(
        f"{result.tenants} tenants: {result.merged_gb:,.0f} GB merged vs {result.multi_lora_gb:,.1f} GB multi-LoRA",
        "", "GPU memory for weights (GB)", barmode="stack", hovermode="closest",
        annotations=[{"x": label, "y": total, "yanchor": "bottom", "showarrow": False, "text": f"{total:,.1f} GB"}
                     for label, total in zip(bars, (result.merged_gb, result.multi_lora_gb))],
    )
    layout["xaxis"]["domain"] = [0.0, 0.32]
    layout["height"] = max(420, 14 * result.tenants + 120)  # room for one Sankey node per tenant
    return {"data": data, "layout": layout}


def headline(result: Result) -> str:
    if result.tenants == 1:
        return (f"One tenant: a merged model needs {result.merged_gb:,.1f} GB, base plus adapter "
                f"{result.multi_lora_gb:,.1f} GB; multi-LoRA pays off from the second tenant.")
    return (f"{result.tenants} merged models need {result.merged_gb:,.1f} GB; one base with {result.tenants} "
            f"adapters needs {result.multi_lora_gb:,.1f} GB ({result.ratio:.1f}x less).")
