"""Data balance: what a skewed training set does to a classifier's minority classes.

We train a real (if tiny) classifier. Four classes, A to D, are clouds of points in two dimensions,
drawn from Gaussians whose centres sit on the corners of a square and whose spreads overlap, so some
points are genuinely ambiguous, like support tickets that could be "billing" or "technical". The
sliders choose how many training examples each class gets (the first n of a fixed pool per class, so
moving a slider adds or removes points rather than redrawing them).

The model is multinomial logistic regression (a softmax over four classes, the same output layer a
fine-tuned LLM classifier ends with), trained by full-batch gradient descent on the mean cross-entropy
in plain NumPy: 80 steps from zero weights. Where the clouds overlap, the loss is lowest when the
model sides with whichever class has more examples there, so a majority class swallows the border
and the minority class's decision region shrinks.

We then measure on a held-out test set with the same number of points in every class (250 each),
because that is what you care about in production: does the model recognise each class? Recall is
the fraction of a class's test points predicted as that class; confidence is the mean probability
the model gives the true class. The same training runs again on a balanced set of the same total
size, drawn from the same pools, as the reference bars.

Assumptions: the classes are equally hard and equally frequent in the test set; real tickets are
not Gaussian clouds, but the mechanism (the prior learned from class frequencies shifts the boundary)
is the same one the spec warns about: "a 90/10 split will produce a model that almost always
predicts the majority class".
"""

import functools
from dataclasses import dataclass

import numpy as np

from simulations import figures
from simulations.params import bounded

NAME = "data-balance"
CHAPTER = 2
TITLE = "Data balance visualizer"

CLASSES = ("A", "B", "C", "D")
POOL_SIZE = 400  # the most training examples a class can have
TEST_PER_CLASS = 250
STEPS = 80
LEARNING_RATE = 1.0
_CENTRES = np.array([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])  # (4, 2)
_SPREAD = 1.0  # standard deviation of each cloud: about a quarter of points lie past a border
_SEED = 20240502  # fixed: the pools are part of the simulation, not a parameter


def _class_size(default: int, label: str):
    return bounded(default, ge=5, le=POOL_SIZE, step=5, unit="examples", title=f"Class {label}",
                   description=f"Training examples of class {label}.")


@dataclass(frozen=True)
class Params:
    class_a: int = _class_size(100, "A")
    class_b: int = _class_size(100, "B")
    class_c: int = _class_size(100, "C")
    class_d: int = _class_size(100, "D")


@dataclass(frozen=True)
class Result:
    counts: np.ndarray  # (4,) training examples per class, as chosen
    balanced_counts: np.ndarray  # (4,) same total, spread evenly
    recall: np.ndarray  # (4,) per-class recall on the balanced test set
    confidence: np.ndarray  # (4,) mean probability of the true class
    balanced_recall: np.ndarray
    balanced_confidence: np.ndarray
    accuracy: float
    balanced_accuracy: float
    weakest_class: str
    min_recall: float


@functools.lru_cache(maxsize=1)
def _pools() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training pools (4, POOL_SIZE, 3) with a bias column, and the test set (4*T, 3) with labels."""
    rng = np.random.default_rng(_SEED)
    train = _CENTRES[:, None, :] + _SPREAD * rng.standard_normal((4, POOL_SIZE, 2))
    test = _CENTRES[:, None, :] + _SPREAD * rng.standard_normal((4, TEST_PER_CLASS, 2))
    with_bias = lambda points: np.concatenate([points, np.ones(points.shape[:-1] + (1,))], axis=-1)
    return with_bias(train), with_bias(test).reshape(-1, 3), np.repeat(np.arange(4), TEST_PER_CLASS)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=256)
def _train_and_evaluate(counts: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-class recall and mean true-class confidence of a classifier trained on `counts` examples."""
    train_pools, test_x, test_y = _pools()
    x = np.concatenate([train_pools[k, :n] for k, n in enumerate(counts)])  # (N, 3)
    x_t = np.ascontiguousarray(x.T)  # (3, N)
    # The gradient of the summed cross-entropy is x.T @ (p - y); x.T @ y (the per-class feature sums) is fixed.
    class_sums = np.stack([train_pools[k, :n].sum(axis=0) for k, n in enumerate(counts)], axis=1)  # (3, 4)
    weights = np.zeros((3, 4))
    step = LEARNING_RATE / len(x)
    for _ in range(STEPS):
        # No max-subtraction before exp: features are O(1) and 80 steps keep the logits far below overflow.
        p = np.exp(x @ weights)  # (N, 4)
        p /= p.sum(axis=1, keepdims=True)
        weights -= step * (x_t @ p - class_sums)
    probabilities = _softmax(test_x @ weights).reshape(4, TEST_PER_CLASS, 4)
    predicted = probabilities.argmax(axis=2)  # (4, T)
    recall = (predicted == np.arange(4)[:, None]).mean(axis=1)
    confidence = probabilities[np.arange(4), :, np.arange(4)].mean(axis=1)
    recall.flags.writeable = confidence.flags.writeable = False  # cached: callers must not edit them
    return recall, confidence


def balanced_counts(total: int) -> tuple[int, ...]:
    """`total` examples spread as evenly as possible over the four classes."""
    share, extra = divmod(total, 4)
    return tuple(share + (k < extra) for k in range(4))


def simulate(params: Params) -> Result:
    counts = (params.class_a, params.class_b, params.class_c, params.class_d)
    reference = balanced_counts(sum(counts))
    recall, confidence = _train_and_evaluate(counts)
    balanced_recall, balanced_confidence = _train_and_evaluate(reference)
    weakest = int(np.argmin(recall))
    return Result(
        counts=np.array(counts),
        balanced_counts=np.array(reference),
        recall=recall,
        confidence=confidence,
        balanced_recall=balanced_recall,
        balanced_confidence=balanced_confidence,
        accuracy=float(recall.mean()),  # the test set is balanced, so accuracy is the mean recall
        balanced_accuracy=float(balanced_recall.mean()),
        weakest_class=CLASSES[weakest],
        min_recall=float(recall[weakest]),
    )


def _pair(values: np.ndarray, reference: np.ndarray, axis: str, percent: bool, show_legend: bool) -> list[dict]:
    scale = 100 if percent else 1
    template = "%{y:.0f}%" if percent else "%{y:,}"
    axes = {"xaxis": f"x{axis}", "yaxis": f"y{axis}"}
    return [
        {"type": "bar", "name": "Your split", "legendgroup": "yours", "showlegend": show_legend,
         "x": list(CLASSES), "y": (scale * values).tolist(), "marker": {"color": figures.ACCENT},
         "hovertemplate": template, **axes},
        {"type": "bar", "name": "Balanced, same total", "legendgroup": "balanced", "showlegend": show_legend,
         "x": list(CLASSES), "y": (scale * reference).tolist(), "marker": {"color": figures.MUTED},
         "hovertemplate": template, **axes},
    ]


def figure(result: Result) -> dict:
    data = [
        *_pair(result.counts, result.balanced_counts, "", percent=False, show_legend=True),
        *_pair(result.recall, result.balanced_recall, "2", percent=True, show_legend=False),
        *_pair(result.confidence, result.balanced_confidence, "3", percent=True, show_legend=False),
    ]
    layout = figures.base_layout(
        "Class balance vs per-class recall and confidence", "Training examples", "Examples",
        barmode="group", hovermode="x",
        xaxis2=figures.axis("Recall on a balanced test set", domain=[0.37, 0.63], anchor="y2"),
        yaxis2=figures.axis("%", anchor="x2", range=[0, 100]),
        xaxis3=figures.axis("Confidence in the true class", domain=[0.74, 1.0], anchor="y3"),
        yaxis3=figures.axis("%", anchor="x3", range=[0, 100]),
    )
    layout["xaxis"]["domain"] = [0.0, 0.26]
    return {"data": data, "layout": layout}


def headline(result: Result) -> str:
    if np.array_equal(result.counts, result.balanced_counts):
        return (f"Balanced classes: every class is recalled at least {100 * result.min_recall:.0f}% of the time "
                f"({100 * result.accuracy:.0f}% overall).")
    return (f"Weakest class {result.weakest_class}: {100 * result.min_recall:.0f}% recall "
            f"({100 * result.accuracy:.0f}% overall; balanced data gives {100 * result.balanced_accuracy:.0f}%).")
