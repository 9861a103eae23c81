"""LoRA's low-rank decomposition: how well a rank-r product A x B approximates a weight update.

We build a synthetic weight update ΔW of size d x d the way the LoRA paper describes real fine-tuning
updates: mostly low-rank. It is the sum of a "true" update of rank k, whose k singular values decay
smoothly (the first direction matters most, the k-th about 5% as much), and dense Gaussian noise whose
total size (Frobenius norm) is a chosen fraction of the true update's. Both come from
`np.random.default_rng(seed)`, so a seed always gives the same matrix.

LoRA learns ΔW ≈ A x B with A of shape d x r and B of shape r x d. The best such product is the
truncated singular value decomposition (the Eckart-Young theorem): keep the r largest singular values
and their directions. So its relative error has a closed form,

    error(r) = sqrt(sum of squared singular values beyond r / sum of all squared singular values),

which is what the error curve plots for every r. Without noise the error drops to zero once r reaches
the true rank k; with noise, the extra ranks only fit noise, so the curve flattens. A trained LoRA
adapter does no better than this bound: it is the best case for a given r.

The parameter count is the point of the exercise: A and B together hold 2·d·r numbers, against d² for
the full update. For the spec's [4096, 4096] matrix at r = 8 that is 65,536 instead of 16.8 million,
a 256x reduction (the spec's 244x divides a rounded 16 million by 65,536). Here d is kept small (64
to 512) so the decomposition runs while you drag; the heat maps show the top-left 32 x 32 corner of
ΔW and of its rank-r approximation, and the spectrum shows at most the first 128 singular values.

A real ΔW. With source "real" the matrix is not synthetic: it is one linear layer of the course's default base
fully fine-tuned on the legal-format data (all else frozen), built by the lab engine and handed in as plain
data. Its spectrum shows how low-rank a real update is. A learner's run can be added: its adapter's effective
update B·A·(alpha/r) for the same layer, whose rank is at most r by construction, drawn as a second spectrum.
The sliders for d, the true rank, the noise and the seed shape only the synthetic matrix.
"""

import functools
from dataclasses import dataclass

import numpy as np

from simulations import figures
from simulations.params import bounded, choice

NAME = "lora-rank"
CHAPTER = 3
TITLE = "LoRA low-rank decomposition"

MAX_RANK = 64
CORNER = 32  # side of the heat-map window
SPECTRUM_SHOWN = 128


@dataclass(frozen=True)
class Params:
    r: int = bounded(8, ge=1, le=MAX_RANK, step=1, title="Rank r", description="LoRA rank: the inner size of A x B.")
    d: int = bounded(128, ge=64, le=512, step=32, title="Matrix size d",
                     description="The weight update is a d x d matrix.")
    true_rank: int = bounded(12, ge=1, le=MAX_RANK, step=1,
                             description="Rank of the true update hidden under the noise.")
    noise: float = bounded(0.05, ge=0.0, le=1.0, step=0.01,
                           description="Size of the dense noise as a fraction of the true update (Frobenius norms).")
    seed: int = bounded(0, ge=0, le=9999, step=1, description="Random seed of the matrix.")
    source: str = choice("synthetic", ("synthetic", "real"), description=(
        "The synthetic matrix, or a real ΔW: one layer of the course's base fully fine-tuned on the lab data."),
        labels={"synthetic": "Synthetic (sliders)", "real": "Real: one fine-tuned layer of the course's base"})


@dataclass(frozen=True)
class Result:
    r: int
    d: int
    true_rank: int
    singular_values: np.ndarray  # (d,) descending
    ranks: np.ndarray  # (MAX_RANK,) 1..MAX_RANK
    error_by_rank: np.ndarray  # (MAX_RANK,) relative Frobenius error of the best rank-k product
    relative_error: float  # at rank r
    lora_params: int  # 2·d·r
    full_params: int  # d²
    corner: np.ndarray  # (CORNER, CORNER) top-left of ΔW
    approx_corner: np.ndarray  # (CORNER, CORNER) top-left of the rank-r approximation
    source: str = "synthetic"


@functools.lru_cache(maxsize=16)
def _decomposition(d: int, true_rank: int, noise: float, seed: int) -> tuple[np.ndarray, ...]:
    """SVD pieces of ΔW: the corner rows of U, the singular values, the corner columns of Vᵀ, the corner of ΔW.

    Cached on everything but r, so dragging the rank slider never repeats the O(d³) decomposition.
    """
    rng = np.random.default_rng(seed)
    left, _ = np.linalg.qr(rng.standard_normal((d, true_rank)))  # (d, k) orthonormal columns
    right, _ = np.linalg.qr(rng.standard_normal((d, true_rank)))
    strengths = np.exp(-3.0 * np.arange(true_rank) / true_rank)  # last direction ≈ 5% of the first
    update = (left * strengths) @ right.T  # (d, d), rank k
    noise_matrix = rng.standard_normal((d, d))
    update += noise * np.linalg.norm(update) / np.linalg.norm(noise_matrix) * noise_matrix
    u, s, vt = np.linalg.svd(update)
    pieces = (u[:CORNER].copy(), s, vt[:, :CORNER].copy(), update[:CORNER, :CORNER].copy())
    for piece in pieces:
        piece.flags.writeable = False  # shared through the cache
    return pieces


def _real_decomposition(delta: np.ndarray) -> tuple[np.ndarray, ...]:
    u, s, vt = np.linalg.svd(np.asarray(delta, dtype=float))
    return u[:CORNER].copy(), s, vt[:, :CORNER].copy(), np.asarray(delta, dtype=float)[:CORNER, :CORNER].copy()


def simulate(params: Params, real: np.ndarray | None = None) -> Result:
    """The synthetic matrix's decomposition, or with source "real" that of `real` (the built ΔW, required)."""
    if params.source == "real":
        if real is None:
            raise ValueError("source 'real' needs the real ΔW matrix")
        u_rows, s, vt_cols, corner = _real_decomposition(real)
        d = int(min(real.shape))
    else:
        u_rows, s, vt_cols, corner = _decomposition(params.d, params.true_rank, params.noise, params.seed)
        d = params.d
    energy = s ** 2
    # Energy left beyond rank k, for k = 1..MAX_RANK: total minus the running sum.
    remaining = np.clip(energy.sum() - np.cumsum(energy)[:MAX_RANK], 0.0, None)
    error_by_rank = np.sqrt(remaining / energy.sum())
    r = params.r
    approx_corner = (u_rows[:, :r] * s[:r]) @ vt_cols[:r]  # (CORNER, CORNER) of A x B
    return Result(
        r=r,
        d=d,
        true_rank=params.true_rank,
        singular_values=s,
        ranks=np.arange(1, MAX_RANK + 1),
        error_by_rank=error_by_rank,
        relative_error=float(error_by_rank[r - 1]),
        lora_params=2 * d * r,
        full_params=d ** 2,
        corner=corner,
        approx_corner=approx_corner,
        source=params.source,
    )


def adapter_spectrum(update: np.ndarray, r: int) -> dict:
    """A run's adapter update B·A·scaling as plain data: its singular values and its numerical rank (<= r)."""
    s = np.linalg.svd(np.asarray(update, dtype=float), compute_uv=False)
    rank = int(np.count_nonzero(s > s.max(initial=0.0) * 1e-6)) if s.size else 0
    return {"singular_values": s.tolist(), "rank": rank, "r": int(r)}


def figure(result: Result, measured: dict | None = None) -> dict:
    shown = result.singular_values[:SPECTRUM_SHOWN]
    index = np.arange(1, shown.size + 1)
    kept = np.where(index <= result.r, figures.ACCENT, figures.MUTED).tolist()
    limit = float(np.abs(result.corner).max())
    # Heat-map values rounded to 4 decimals: the colours cannot show more, and it halves the payload.
    heat = {"type": "heatmap", "coloraxis": "coloraxis",
            "hovertemplate": "row %{y}, column %{x}: %{z:.3f}<extra></extra>"}
    data = [
        {"type": "bar", "name": "Singular values (blue: kept at rank r)", "x": index.tolist(), "y": shown.tolist(),
         "marker": {"color": kept}, "hovertemplate": "σ%{x}: %{y:.3g}<extra></extra>"},
        {"type": "scatter", "mode": "lines", "name": "Relative error of the best rank-k product",
         "x": result.ranks.tolist(), "y": (100 * result.error_by_rank).tolist(), "xaxis": "x2", "yaxis": "y2",
         "line": {"color": figures.PROMPTING, "width": 2.5}, "hovertemplate": "rank %{x}: %{y:.1f}%<extra></extra>"},
        {"type": "scatter", "mode": "markers", "name": f"r = {result.r}", "x": [result.r],
         "y": [100 * result.relative_error], "xaxis": "x2", "yaxis": "y2",
         "marker": {"color": figures.ACCENT, "size": 11}, "hovertemplate": "rank %{x}: %{y:.1f}%<extra></extra>"},
        {**heat, "name": "ΔW", "z": np.round(result.corner, 4).tolist(), "xaxis": "x3", "yaxis": "y3"},
        {**heat, "name": "A × B", "z": np.round(result.approx_corner, 4).tolist(), "xaxis": "x4", "yaxis": "y4"},
    ]
    if measured is not None:
        adapter = np.asarray(measured["singular_values"][:SPECTRUM_SHOWN])
        data.append({"type": "scatter", "mode": "markers", "name": f"Your adapter's B·A (rank {measured['rank']})",
                     "x": list(range(1, adapter.size + 1)), "y": np.where(adapter > 0, adapter, None).tolist(),
                     "marker": {"color": figures.EXTRA[3], "size": 7, "symbol": "diamond"},
                     "hovertemplate": "σ%{x}: %{y:.3g}<extra></extra>"})
    grid = {"showgrid": False, "zeroline": False, "showticklabels": False}
    layout = figures.base_layout(
        f"Rank {result.r}: {result.lora_params:,} parameters instead of {result.full_params:,}",
        "Singular value index", "Singular value", height=640, hovermode="closest",
        xaxis2=figures.axis("Rank", domain=[0.56, 1.0], anchor="y2"),
        yaxis2=figures.axis("Relative error (%)", domain=[0.58, 1.0], anchor="x2", rangemode="tozero"),
        xaxis3=figures.axis(f"ΔW (top-left {CORNER}×{CORNER})", domain=[0.0, 0.44], anchor="y3", **grid),
        yaxis3=figures.axis("", domain=[0.0, 0.42], anchor="x3", autorange="reversed", **grid),
        xaxis4=figures.axis(f"A × B at rank {result.r}", domain=[0.56, 1.0], anchor="y4", **grid),
        yaxis4=figures.axis("", domain=[0.0, 0.42], anchor="x4", autorange="reversed", **grid),
        coloraxis={"colorscale": "RdBu", "cmin": -limit, "cmax": limit, "showscale": False},
        shapes=[figures.vertical_line(result.r + 0.5, figures.ACCENT) | {"yref": "y domain"},
                figures.vertical_line(result.r, figures.ACCENT) | {"xref": "x2", "yref": "y2 domain"}],
    )
    layout["xaxis"]["domain"] = [0.0, 0.44]
    layout["yaxis"].update(domain=[0.58, 1.0], type="log")
    return {"data": data, "layout": layout}


def headline(result: Result, measured: dict | None = None) -> str:
    ratio = result.full_params / result.lora_params
    size = f"{ratio:.0f}x fewer than" if ratio >= 1 else f"{1 / ratio:.1f}x more than"
    prefix = "On the real ΔW, r" if result.source == "real" else "R"
    suffix = ""
    if measured is not None:
        suffix = (f" Your adapter's update on the same layer has rank {measured['rank']} (at most r = "
                  f"{measured['r']}, by construction).")
    return (f"{prefix}ank {result.r} leaves {100 * result.relative_error:.1f}% relative error with "
            f"{result.lora_params:,} parameters, {size} the {result.full_params:,} of ΔW.{suffix}")
