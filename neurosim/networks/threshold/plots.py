"""Figures for threshold logic. Each function takes ``ax=None`` and returns the axes;
nothing here shows a window or saves a file (use :func:`neurosim.plots.save_figure`)."""

import numpy as np

from neurosim.plots import plt  # Agg backend: never a window


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    return ax

_UNITS = {
    "read": "read noise σ (fraction of G)",
    "prog": "programming noise σ (fraction of G_max)",
    "prog_proportional": "programming noise σ (fraction of G)",
    "c2c": "cycle-to-cycle noise σ (fraction of window per pulse)",
    "output": "output noise σ (fraction of w_max)",
    "comparator": "comparator noise σ (A)",
}


def plot_gate_errors(rows, ax=None, *, curves=None, z: float = 1.96, title: str | None = None, yscale: str = "linear"):
    """Gate error rate against noise level: analytic curves (lines) and simulated points (markers).

    ``rows``: the dicts of :func:`neurosim.networks.threshold.margins.error_sweep`.
    ``curves``: optional dicts of :func:`~neurosim.networks.threshold.margins.analytic_sweep`
    on a finer grid, drawn instead of the analytic values at the simulated levels.
    Error bars are ``z`` standard errors of the simulated rates (default 95 %).
    """
    ax = _axes(ax)
    gates = list(dict.fromkeys(r["gate"] for r in rows))
    colors = {g: f"C{i % 10}" for i, g in enumerate(gates)}
    for g in gates:
        sel = sorted((r for r in rows if r["gate"] == g), key=lambda r: r["level"])
        x = np.array([r["level"] for r in sel])
        sim = np.array([r["simulated"] for r in sel])
        se = np.nan_to_num(np.array([r["std_error"] for r in sel], dtype=float))
        ax.errorbar(x, sim, yerr=z * se, fmt="o", ms=4, capsize=2, color=colors[g], label=f"{g} simulated")
        source = sel if curves is None else sorted((r for r in curves if r["gate"] == g), key=lambda r: r["level"])
        ana = [(r["level"], r["analytic"]) for r in source if r["analytic"] is not None]
        if ana:
            ax.plot(*zip(*ana), "-", lw=1.3, color=colors[g], alpha=0.8, label=f"{g} analytic")
    kind = rows[0]["noise"] if rows else ""
    trials = rows[0]["trials"] if rows else 0
    ax.set_xlabel(_UNITS.get(kind, kind))
    ax.set_ylabel("gate error rate (inputs equally likely)")
    ax.set_yscale(yscale)
    ax.set_title((title or "Threshold gates: error rate vs noise") + f"\nlines: Gaussian analytic model; points: {trials} programmed copies ± {z:g} s.e.", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    return ax


def plot_perceptron(result, ax=None):
    """Mistakes per epoch of :func:`neurosim.networks.threshold.perceptron.train_perceptron`."""
    ax = _axes(ax)
    epochs = np.arange(1, len(result.mistakes) + 1)
    ax.plot(epochs, result.mistakes, "o-", ms=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mistakes")
    ax.set_title(result.message, fontsize=9)
    ax.grid(alpha=0.3)
    return ax
