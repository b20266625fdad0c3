"""Figures of converted spiking networks: accuracy against simulation time steps.

Compute and plot are kept apart: these functions take numbers (or finished
sweep points) and return the axes; nothing here shows a window or saves a
file (see :func:`neurosim.plots.save_figure`).
"""

import textwrap

import numpy as np

from neurosim.errors import NeurosimError


def plot_accuracy_vs_steps(curves: dict, reference=None, ax=None, title=None, xlabel="time steps"):
    """Accuracy (%) against time steps, one line per entry of ``curves``.

    ``curves``: ``{label: (steps, accuracy)}`` or ``{label: (steps, mean, std)}``
    with accuracies as fractions (``std``: one standard deviation over seeds,
    drawn as error bars). ``reference``: a software accuracy (fraction) drawn
    as a dashed line. The step axis is logarithmic.
    """
    import matplotlib.pyplot as plt

    if not curves:
        raise NeurosimError("plot_accuracy_vs_steps needs at least one curve")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    for label, curve in curves.items():
        steps, mean = np.asarray(curve[0], dtype=float), 100 * np.asarray(curve[1], dtype=float)
        std = 100 * np.asarray(curve[2], dtype=float) if len(curve) > 2 and curve[2] is not None else None
        ax.errorbar(steps, mean, yerr=std, marker="o", ms=4, capsize=3, label=str(label))
    if reference is not None:
        ax.axhline(100 * reference, color="k", ls="--", lw=1, label=f"ANN ({100 * reference:.2f} %)")
    ax.set_xscale("log")
    ticks = sorted({float(t) for curve in curves.values() for t in np.asarray(curve[0], dtype=float)})
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    if title:
        ax.set_title(textwrap.fill(title, 70), fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return ax


def sweep_curves(records, readout: str = "membrane") -> tuple:
    """``({label: (steps, mean, std)}, software accuracy)`` from finished ``snn_point`` sweep records.

    Points are grouped by every setting that is not the seed; the label names
    the device and the settings that differ between groups.
    """
    prefix = f"accuracy_{readout}_"
    groups = {}
    for r in records:
        key = tuple(sorted((k, str(v)) for k, v in r["settings"].items()))
        groups.setdefault(key, []).append(r["metrics"])
    if not groups:
        raise NeurosimError("no finished points to plot")
    varying = {k for key in groups for k, v in key if len({dict(other).get(k) for other in groups}) > 1}
    curves, software = {}, []
    for key, metrics in groups.items():
        settings = dict(key)
        steps = sorted({int(k[len(prefix):]) for m in metrics for k in m if k.startswith(prefix)})
        if not steps:
            raise NeurosimError(f"the points hold no '{prefix}<steps>' metrics: not an snn_point sweep?")
        values = np.array([[m[f"{prefix}{t}"] for t in steps] for m in metrics])
        std = values.std(axis=0, ddof=1) if len(values) > 1 else None
        parts = [settings.get("device", "sige_epiram")] + [f"{k.split('.')[-1]} {settings[k]}" for k in sorted(varying - {"device"})]
        curves[", ".join(parts)] = (np.array(steps), values.mean(axis=0), std)
        software += [m["software_accuracy"] for m in metrics if "software_accuracy" in m]
    return curves, (float(np.mean(software)) if software else None)
