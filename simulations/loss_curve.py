"""Training loss curve: watch a LoRA fine-tune learn, overfit, or blow up.

This is a phenomenological model of a supervised fine-tuning run, shaped like the curves real runs
log, not a real training. One optimizer step sees an effective batch of 16 examples (2 per device x 8
gradient-accumulation steps, as in the chapter's config), so an epoch is ceil(examples / 16) steps.
The learning rate warms up over the first 3% of steps and then follows a cosine decay, as in the
chapter's config; "progress" is the learning rate summed over the steps taken so far.

Learning. Both losses start at 2.0 and fall exponentially with progress towards what the data allows.
The training loss heads for 0.55; the validation loss stops higher, by 0.3 x sqrt(100 / examples):
a small dataset does not show the model everything your real inputs will contain.

Overfitting. From late in the first epoch the model starts to memorise the examples it has seen
before. Memorisation grows with the epochs, faster with a higher learning rate and a higher rank
(more capacity), and it is larger when the dataset is small (by (100 / examples) ** 0.75). It pulls the
training loss down and pushes the validation loss up, so the gap between the two curves widens with
every extra epoch: the signature of overfitting.

Instability. Above a learning rate of 3e-4 the run shows loss spikes (rare steps where the loss jumps
and recovers over a few steps); above 6e-4 it diverges, climbing back up as training goes on. Rates
around 2e-4 are the usual LoRA default; 1e-5 barely moves in a short run.

Noise. Each step's training loss is measured on 16 examples, so it is noisy (8% relative, from
`np.random.default_rng(seed)`); the chart shows the average over logging windows, as trainers log it.
The validation loss is measured on a fixed held-out set at regular evaluation steps. Early stopping
keeps the checkpoint with the lowest validation loss: the marked step.

Your run. A learner's run arrives as plain data (its steps, training and validation losses, unrounded).
The chart draws it as measured, marks the step the same early-stopping rule picks on its real validation
curve, and fits this model's learning term, loss = floor + (start - floor) x exp(-step / scale), to its
training loss by least squares (a grid over the scale, exact for start and floor): the fitted parameters
and the share of the run's variance they explain (R²) say whether the model describes the run.
"""

import math
from dataclasses import dataclass

import numpy as np

from simulations import figures
from simulations.params import bounded

NAME = "loss-curve"
CHAPTER = 4
TITLE = "Training loss curve"

EFFECTIVE_BATCH = 16  # per_device_train_batch_size 2 x gradient_accumulation_steps 8
WARMUP_RATIO = 0.03
INITIAL_LOSS = 2.0
FLOOR_LOSS = 0.55
REFERENCE_LR = 2e-4
SPIKE_LR = 3e-4
DIVERGE_LR = 6e-4
MAX_POINTS = 400  # logged training-loss points sent to the chart
EVALS_PER_EPOCH = 4
_LEARNING_SCALE = 6.0  # reference-rate steps for the loss to fall by a factor e
_DATA_GAP = 0.3  # extra validation floor at 100 examples
_MEMORISATION = 0.5  # most memorisation at 100 examples and rank 16
_STEP_NOISE = 0.08


@dataclass(frozen=True)
class Params:
    dataset_size: int = bounded(500, ge=20, le=10_000, step=10, unit="examples", scale="log",
                                description="Training examples.")
    epochs: int = bounded(3, ge=1, le=10, step=1, description="Passes over the training set.")
    learning_rate: float = bounded(2e-4, ge=1e-5, le=1e-3, scale="log", description="Peak learning rate.")
    r: int = bounded(16, ge=1, le=256, step=1, title="LoRA rank r",
                     description="Adapter rank: its capacity to memorise.")
    seed: int = bounded(0, ge=0, le=9999, step=1, description="Random seed of the step-to-step noise.")


@dataclass(frozen=True)
class Result:
    step: np.ndarray  # (≤400,) logged steps
    train_loss: np.ndarray  # (≤400,) mean training loss over each logging window
    eval_step: np.ndarray  # evaluation steps, including step 0
    val_loss: np.ndarray
    early_stop_step: int
    early_stop_val_loss: float
    final_train_loss: float
    final_val_loss: float
    final_gap: float  # validation minus training loss at the end
    total_steps: int
    steps_per_epoch: int
    diverged: bool
    spikes: int


def _schedule(total: int, peak: float) -> np.ndarray:
    """Per-step learning rate: linear warm-up, then cosine decay to zero."""
    t = np.arange(1, total + 1)
    warmup = max(1, math.ceil(WARMUP_RATIO * total))
    cosine = 0.5 * (1 + np.cos(np.pi * np.clip(t - warmup, 0, None) / max(1, total - warmup)))
    return peak * np.where(t <= warmup, t / warmup, cosine)


def _spikes(rng: np.random.Generator, total: int, lr: float) -> np.ndarray:
    """Loss spikes: rare jumps that decay over a few steps, more and larger as lr passes SPIKE_LR."""
    excess = max(0.0, lr / SPIKE_LR - 1)
    draws, sizes = rng.random(total), rng.exponential(1.0, total)
    impulses = np.where(draws < min(0.3, 0.04 * excess), 0.6 * excess * sizes, 0.0)
    return np.convolve(impulses, np.exp(-np.arange(12) / 3.0))[:total]


def simulate(params: Params) -> Result:
    rng = np.random.default_rng(params.seed)
    per_epoch = math.ceil(params.dataset_size / EFFECTIVE_BATCH)
    total = per_epoch * params.epochs
    lr = _schedule(total, params.learning_rate)
    t = np.arange(0, total + 1)  # step 0 is the model before training
    progress = np.concatenate([[0.0], np.cumsum(lr) / REFERENCE_LR])  # reference-rate steps taken
    epoch = t / per_epoch
    fit = np.exp(-progress / _LEARNING_SCALE * (params.r / 16) ** 0.1)
    data_gap = _DATA_GAP * math.sqrt(100 / params.dataset_size)
    learned = FLOOR_LOSS + (INITIAL_LOSS - FLOOR_LOSS) * fit

    capacity = _MEMORISATION * (100 / params.dataset_size) ** 0.75 * (params.r / 16) ** 0.3
    exposure = np.clip(epoch - 0.7, 0, None) ** 1.5 * math.sqrt(params.learning_rate / REFERENCE_LR)
    memorised = capacity * (1 - np.exp(-exposure / 2))

    rate = max(0.0, params.learning_rate / DIVERGE_LR - 1)
    divergence = 2.5 * (1 - np.exp(-rate * np.clip(progress - _LEARNING_SCALE, 0, None) / 40))
    spikes = np.concatenate([[0.0], _spikes(rng, total, params.learning_rate)])
    instability = divergence + spikes

    train = np.clip(learned - 0.6 * memorised + instability, 0.02, None)
    train *= 1 + _STEP_NOISE * rng.standard_normal(total + 1)
    val = learned + data_gap * (1 - fit) + memorised + instability

    window = math.ceil(total / MAX_POINTS)
    logged = total // window * window  # whole windows only; the last partial one is dropped
    step = np.arange(window, logged + 1, window)
    train_logged = train[1:logged + 1].reshape(-1, window).mean(axis=1)

    eval_every = max(1, per_epoch // EVALS_PER_EPOCH)
    eval_step = np.unique(np.append(np.arange(0, total + 1, eval_every), total))
    val_at_eval = val[eval_step] * (1 + 0.005 * rng.standard_normal(eval_step.size))
    best = int(np.argmin(val_at_eval))
    # The last tenth of the run, so that one noisy step does not decide the final gap.
    final_train = float(train[max(1, total - math.ceil(total / 10) + 1):].mean())
    return Result(
        step=step,
        train_loss=train_logged,
        eval_step=eval_step,
        val_loss=val_at_eval,
        early_stop_step=int(eval_step[best]),
        early_stop_val_loss=float(val_at_eval[best]),
        final_train_loss=final_train,
        final_val_loss=float(val_at_eval[-1]),
        final_gap=float(val_at_eval[-1]) - final_train,
        total_steps=total,
        steps_per_epoch=per_epoch,
        diverged=bool(divergence[-1] > 0.5),
        spikes=int(np.count_nonzero(np.diff(spikes) > 0.05)),
    )


def fit_run(measured: dict) -> dict:
    """This model's learning term fitted to a run's training loss; its parameters, R², and the fitted curve."""
    step = np.asarray(measured["step"], dtype=float)
    loss = np.asarray(measured["train_loss"], dtype=float)
    best = None
    for scale in np.geomspace(0.5, max(2.0, 4 * float(step.max(initial=1.0))), 200):
        decay = np.exp(-step / scale)  # loss = floor + amplitude * decay: linear in (floor, amplitude)
        design = np.column_stack([np.ones_like(decay), decay])
        (floor, amplitude), *_ = np.linalg.lstsq(design, loss, rcond=None)
        residual = float(np.sum((design @ [floor, amplitude] - loss) ** 2))
        if best is None or residual < best[0]:
            best = (residual, float(scale), float(floor), float(amplitude))
    residual, scale, floor, amplitude = best
    spread = float(np.sum((loss - loss.mean()) ** 2))
    curve_step = np.linspace(0.0, float(step.max(initial=1.0)), 100)
    return {"start": floor + amplitude, "floor": floor, "scale_steps": scale,
            "r_squared": 1 - residual / spread if spread > 0 else 1.0,
            "step": curve_step, "loss": floor + amplitude * np.exp(-curve_step / scale)}


def early_stop(measured: dict) -> tuple[int, float] | None:
    """The step (and loss) the early-stopping rule keeps on a run's validation curve: its lowest point."""
    if not measured["val_loss"]:
        return None
    best = int(np.argmin(measured["val_loss"]))
    return int(measured["val_step"][best]), float(measured["val_loss"][best])


def _measured_traces(measured: dict) -> list[dict]:
    fit = fit_run(measured)
    traces = [
        {"type": "scatter", "mode": "lines", "name": "Your run: training loss", "x": list(measured["step"]),
         "y": list(measured["train_loss"]), "line": {"color": figures.EXTRA[3], "width": 1},
         "hovertemplate": "%{y:.3f}"},
        {"type": "scatter", "mode": "markers", "name": "Your run: validation loss", "x": list(measured["val_step"]),
         "y": list(measured["val_loss"]), "marker": {"color": figures.EXTRA[1], "size": 9, "symbol": "square"},
         "hovertemplate": "%{y:.3f}"},
        {"type": "scatter", "mode": "lines",
         "name": (f"Model fitted to your run: start {fit['start']:.2f}, floor {fit['floor']:.2f}, "
                  f"scale {fit['scale_steps']:.1f} steps (R² {fit['r_squared']:.2f})"),
         "x": fit["step"].tolist(), "y": fit["loss"].tolist(),
         "line": {"color": figures.EXTRA[1], "width": 2.5, "dash": "dash"}, "hovertemplate": "%{y:.3f}"},
    ]
    stop = early_stop(measured)
    if stop is not None:
        traces.append({"type": "scatter", "mode": "markers", "name": f"Early stop on your run: step {stop[0]}",
                       "x": [stop[0]], "y": [stop[1]],
                       "marker": {"color": figures.EXTRA[1], "size": 14, "symbol": "star"},
                       "hovertemplate": "%{y:.3f}"})
    return traces


def figure(result: Result, measured: dict | None = None) -> dict:
    data = [
        {"type": "scatter", "mode": "lines", "name": "Training loss", "x": result.step.tolist(),
         "y": result.train_loss.tolist(), "line": {"color": figures.ACCENT, "width": 1.5},
         "hovertemplate": "%{y:.3f}"},
        {"type": "scatter", "mode": "lines+markers", "name": "Validation loss", "x": result.eval_step.tolist(),
         "y": result.val_loss.tolist(), "line": {"color": figures.PROMPTING, "width": 2.5},
         "marker": {"size": 5}, "hovertemplate": "%{y:.3f}"},
        {"type": "scatter", "mode": "markers", "name": f"Early stop: step {result.early_stop_step}",
         "x": [result.early_stop_step], "y": [result.early_stop_val_loss],
         "marker": {"color": figures.FINE_TUNED, "size": 13, "symbol": "star"}, "hovertemplate": "%{y:.3f}"},
    ]
    epochs = result.total_steps // result.steps_per_epoch
    boundaries = [figures.vertical_line(e * result.steps_per_epoch, "#dddddd", "solid") for e in range(1, epochs)]
    layout = figures.base_layout(
        "Training and validation loss", f"Optimizer step (effective batch {EFFECTIVE_BATCH}; grey lines: epochs)",
        "Loss", shapes=[*boundaries, figures.vertical_line(result.early_stop_step, figures.FINE_TUNED)],
    )
    top = max(float(result.train_loss.max()), float(result.val_loss.max()))
    if measured and measured["step"]:
        data.extend(_measured_traces(measured))
        top = max([top, *measured["train_loss"], *measured["val_loss"]])
    layout["yaxis"]["range"] = [0, top * 1.05]
    return {"data": data, "layout": layout}


def headline(result: Result, measured: dict | None = None) -> str:
    if measured and measured["step"]:
        return measured_headline(measured)
    if result.diverged:
        return f"The run diverges: validation loss ends at {result.final_val_loss:.2f}; lower the learning rate."
    epoch = result.early_stop_step / result.steps_per_epoch
    return (f"Validation loss is lowest at step {result.early_stop_step} (epoch {epoch:.1f}); "
            f"at the end the train/validation gap is {result.final_gap:.2f}.")


def measured_headline(measured: dict) -> str:
    fit = fit_run(measured)
    verdict = "explains" if fit["r_squared"] >= 0.8 else "explains only part of"
    text = (f"Your run: the model's curve (start {fit['start']:.2f}, floor {fit['floor']:.2f}, scale "
            f"{fit['scale_steps']:.1f} steps) {verdict} its training loss (R² {fit['r_squared']:.2f}).")
    stop = early_stop(measured)
    if stop is not None:
        last = measured["val_step"][-1]
        where = "at the last evaluation: keep training" if stop[0] == last else f"before the end (step {last})"
        text += f" Early stopping would keep step {stop[0]} (validation loss {stop[1]:.3f}), {where}."
    return text
