"""The model card: Markdown plus four PNG plots, written next to the model.

Plots use matplotlib's Agg backend (files only, no display), on the temporal validation
split the thresholds were chosen on, at account level (each account's highest score) for
the precision-recall curve and per event for the score distribution and calibration.
"""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np

from models.registry import ModelMeta
from streams.timefmt import format_ts

CARD_FILE = "card.md"
PLOTS = {
    "pr_curve.png": "Precision-recall curve (accounts, validation)",
    "score_distribution.png": "Score distribution by class (events, validation)",
    "feature_importance.png": "Feature importance (total gain)",
    "calibration.png": "Calibration (events, validation)",
}


def pr_curve(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every distinct threshold, highest threshold first.

    Examples:
        >>> p, r = pr_curve(np.array([1, 0, 1]), np.array([0.9, 0.5, 0.1]))
        >>> p.tolist(), r.tolist()
        ([1.0, 0.5, 0.6666666666666666], [0.5, 0.5, 1.0])
    """
    order = np.argsort(-scores, kind="stable")
    hits = y[order].astype(np.float64)
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / max(hits.sum(), 1.0)
    return precision, recall


def calibration(y: np.ndarray, scores: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted score, observed mule rate and count per score bin (empty bins dropped)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    keep = counts > 0
    predicted = np.bincount(which, weights=scores, minlength=bins)[keep] / counts[keep]
    observed = np.bincount(which, weights=y.astype(np.float64), minlength=bins)[keep] / counts[keep]
    return predicted, observed, counts[keep]


def write_card(out_dir: str | Path, meta: ModelMeta, booster: lgb.Booster, y_events: np.ndarray,
               event_scores: np.ndarray, y_accounts: np.ndarray, account_scores: np.ndarray) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    out = Path(out_dir)
    precision, recall = pr_curve(y_accounts, account_scores)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(recall, precision)
    ax.axhline(0.95, linestyle=":", color="grey")
    ax.set(xlabel="recall", ylabel="precision", title=PLOTS["pr_curve.png"], ylim=(0, 1.02))
    _save(fig, out / "pr_curve.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    bins = np.linspace(0, 1, 41)
    for label, name in ((0, "not mule"), (1, "mule")):
        ax.hist(event_scores[y_events == label], bins=bins, alpha=0.6, label=name, density=True, log=True)
    ax.axvline(meta.hold_threshold, color="red", linestyle="--", label="hold threshold")
    ax.axvline(meta.review_threshold, color="orange", linestyle=":", label="review threshold")
    ax.set(xlabel="score", ylabel="density (log)", title=PLOTS["score_distribution.png"])
    ax.legend()
    _save(fig, out / "score_distribution.png")

    gain = booster.feature_importance(importance_type="gain")
    names = booster.feature_name()
    order = np.argsort(gain)[-15:]
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.barh([names[i] for i in order], gain[order])
    ax.set(xlabel="total gain", title=PLOTS["feature_importance.png"])
    _save(fig, out / "feature_importance.png")

    predicted, observed, _ = calibration(y_events, event_scores)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.plot(predicted, observed, marker="o")
    ax.set(xlabel="mean score", ylabel="observed mule share", title=PLOTS["calibration.png"])
    _save(fig, out / "calibration.png")

    top = [names[i] for i in reversed(order[-5:])]
    v = meta.metrics.get("validation", {})
    text = "\n".join([
        f"# Model card: {meta.version}",
        "",
        f"Created {format_ts(meta.created_ts_ms)}; feature engine {meta.engine_version} "
        f"({len(meta.feature_names)} features); training data fingerprint `{meta.data_fingerprint}`"
        + (f", events before {format_ts(meta.trained_until_ms)}" if meta.trained_until_ms else "") + ".",
        "",
        "LightGBM binary classifier of mule accounts, trained on point-in-time rows (an account at one of "
        "its transfers, features from the past only). Later days validate earlier days; training "
        "stopped early on that split; thresholds were chosen on it at account level.",
        "",
        "| | |",
        "|---|---|",
        f"| hold threshold (validation precision >= 0.97 at 95% confidence) | {meta.hold_threshold:.4f} |",
        f"| review threshold (precision >= 0.5 at 95% confidence) | {meta.review_threshold:.4f} |",
        f"| lower bound of hold precision (Wilson, 95%) | {_num(meta.metrics.get('hold_precision_lower_bound'))} |",
        f"| validation PR-AUC (accounts) | {_num(v.get('pr_auc'))} |",
        f"| validation precision / recall of holds | {_num(v.get('precision'))} / {_num(v.get('recall'))} |",
        f"| validation accounts / mules | {v.get('accounts', '-')} / {v.get('mules', '-')} |",
        f"| rows | {meta.metrics.get('rows', '-')} |",
        f"| best iteration | {meta.metrics.get('best_iteration', '-')} |",
        "",
        f"Most important features (gain): {', '.join(top)}.",
        "",
        "Limits: trained on the simulated world unless said otherwise; the validation split also chose "
        "the thresholds and the stopping round, so held-out figures (`muleguard evaluate`) are the honest ones.",
        "",
        *[f"![{title}]({name})" for name, title in PLOTS.items()],
        "",
    ])
    (out / CARD_FILE).write_text(text)
    return out / CARD_FILE


def _num(value: object) -> str:
    return "-" if value is None else f"{value:.3f}"


def _save(fig: object, path: Path) -> None:
    from matplotlib import pyplot as plt

    fig.tight_layout()  # type: ignore[attr-defined]
    fig.savefig(path, dpi=90)  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
