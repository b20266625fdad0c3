"""Figures of in-situ training: learning curves. Functions take ``ax=None`` and return the axes."""

import numpy as np


def plot_learning_curve(history, ax=None, *, label=None, reference=None, reference_label="software (float)"):
    """Test accuracy (%) against epoch from a run's history (a list of :class:`EpochRecord`).

    ``reference``: an accuracy (fraction) drawn as a dashed line, e.g. the
    software baseline. Epochs without a test evaluation are skipped.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    points = [(r.epoch, r.test_accuracy) for r in history if r.test_accuracy is not None]
    if points:
        epochs, acc = zip(*points)
        ax.plot(epochs, 100 * np.asarray(acc), marker="o" if len(points) < 30 else None, ms=3, lw=1.5, label=label)
        final = 100 * acc[-1]
        ax.annotate(f"{final:.2f} %", (epochs[-1], final), textcoords="offset points", xytext=(-6, -12), ha="right", fontsize=8)
    if reference is not None:
        ax.axhline(100 * reference, color="k", ls="--", lw=1, label=f"{reference_label} ({100 * reference:.2f} %)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    if label or reference is not None:
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    return ax
