"""Matplotlib figures. Each function takes ``ax=None`` and returns the axes;
nothing here shows a window or saves a file (callers do, see :func:`save_figure`)."""

import textwrap

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from neurosim.errors import NeurosimError

_uS = 1e-6


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    return ax


def plot_pulse_response(response, ax=None):
    """Conductance vs pulse number over potentiation then depression, with the C2C band.

    ``response`` is a :class:`neurosim.device.cycling.PulseResponse`.
    """
    ax = _axes(ax)
    d = response.device
    pulse = response.pulse
    n_ltp = d.levels_ltp
    ax.axvspan(0, n_ltp, color="tab:red", alpha=0.06, lw=0)
    ax.axvspan(n_ltp, pulse[-1], color="tab:blue", alpha=0.06, lw=0)
    for row in response.conductance_S:
        ax.plot(pulse, row / _uS, color="0.6", lw=0.6, alpha=0.5)
    mean, std = response.mean_S / _uS, response.std_S / _uS
    label = f"mean of {response.cycles} cycles" if response.cycles > 1 else "simulated (1 cycle)"
    if response.cycles > 1:
        ax.fill_between(pulse, mean - std, mean + std, color="tab:purple", alpha=0.25, lw=0, label="±1 s.d. (cycle to cycle)")
    ax.plot(pulse, mean, color="tab:purple", lw=1.8, label=label)
    ax.plot(pulse, response.model_S / _uS, "k--", lw=1.0, label="model (noiseless)")
    ax.set_xlabel("pulse number")
    ax.set_ylabel("conductance (µS)")
    ax.set_xlim(0, pulse[-1])
    ymax = max(d.g_max_S, np.max(response.conductance_S)) / _uS
    ax.set_ylim(min(0.0, np.min(response.conductance_S) / _uS), 1.08 * ymax)
    ax.text(n_ltp / 2, 1.03 * ymax, f"potentiation ({d.levels_ltp} pulses, NL {d.nl_ltp:g})", ha="center", va="center", fontsize=8)
    ax.text((n_ltp + pulse[-1]) / 2, 1.03 * ymax, f"depression ({d.levels_ltd} pulses, NL {d.nl_ltd:g})", ha="center", va="center", fontsize=8)
    ax.set_title(f"{d.name}: pulse response, C2C σ = {100 * d.c2c_sigma_frac:g} % of window", fontsize=10)
    ax.legend(loc="lower center", fontsize=8, frameon=False)
    if d.citation:
        ax.figure.supxlabel(textwrap.fill(d.citation, 120), fontsize=6, color="0.4")
    return ax


def save_figure(fig, path) -> None:
    """Save ``fig`` to ``path`` (PNG, PDF, ... by suffix) and close it."""
    suffix = Path(path).suffix.lstrip(".").lower()
    supported = fig.canvas.get_supported_filetypes()
    if suffix not in supported:
        plt.close(fig)
        raise NeurosimError(f"cannot save a plot as '{path}': use one of the suffixes {', '.join(sorted(supported))}")
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _group(records, x_key, series_key, metric, style_key=None):
    """{series value (with ``style_key``: (series value, style value)): {x value: [metric per seed]}} in first-seen order."""
    groups = {}
    for r in records:
        s = r["settings"].get(series_key) if series_key else None
        if style_key:
            s = (s, r["settings"].get(style_key))
        x = r["settings"].get(x_key)
        groups.setdefault(s, {}).setdefault(x, []).append(r["metrics"][metric])
    return groups


def _plot_epochs(records, spec, ax):
    """``kind = "epochs"``: a list metric (e.g. ``accuracy_per_epoch``) against ``evaluated_epochs``, one line per
    ``series`` value (mean over seeds, band of one s.d.), published figures (``[plot] published``, percent) as stars
    at the last epoch in the line's colour, and ``[plot] note`` (their sources) under the axes."""
    opts = spec.plot
    series_key = opts.get("series")
    metric = spec.plot_metric()
    percent = "accuracy" in metric
    scale = 100.0 if percent else 1.0
    curves = {}
    for r in records:
        s = r["settings"].get(series_key) if series_key else None
        values = r["metrics"][metric]
        if not isinstance(values, (list, tuple)):
            raise NeurosimError(f"{spec.name}: [plot] kind = 'epochs' needs a list metric, but {metric!r} is {values!r}")
        curves.setdefault(s, []).append((tuple(r["metrics"]["evaluated_epochs"]), np.asarray(values, dtype=float)))
    published = opts.get("published", {})
    last = max(max(e) for runs in curves.values() for e, _ in runs)
    for series, runs in curves.items():
        epochs = runs[0][0]
        if any(e != epochs for e, _ in runs):
            raise NeurosimError(f"{spec.name}: the seeds of {series_key} = {series} scored different epochs")
        values = np.stack([v for _, v in runs]) * scale
        mean = values.mean(axis=0)
        std = values.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros_like(mean)
        line = ax.plot(epochs, mean, lw=1.5, label=str(series) if series_key else None)[0]
        if len(runs) > 1:
            ax.fill_between(epochs, mean - std, mean + std, color=line.get_color(), alpha=0.2, lw=0)
        if str(series) in published:
            ax.plot([last], [published[str(series)]], marker="*", ms=11, color=line.get_color(), mec="k", mew=0.5,
                    ls="none")  # fmt: skip
    if published:
        ax.plot([], [], marker="*", ms=11, color="0.7", mec="k", mew=0.5, ls="none", label="published (NeuroSim V3)")
    ax.set_xlabel(opts.get("xlabel", "epoch"))
    ax.set_ylabel(opts.get("ylabel", f"{metric.replace('_', ' ')}{' (%)' if percent else ''}"))
    n_seeds = spec.seeds
    title = textwrap.fill(opts.get("title", spec.name), 75)
    ax.set_title(title + f"\nmean{' ± 1 s.d.' if n_seeds > 1 else ''} over {n_seeds} seed{'s' if n_seeds > 1 else ''}",
                 fontsize=10)  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves
    if opts.get("note"):
        ax.figure.supxlabel(textwrap.fill(opts["note"], 130), fontsize=6, color="0.35")
    return ax


def pareto_front(points) -> list[int]:
    """Indices of the points ``(cost, value)`` that no other point beats (lower or equal cost and higher or equal
    value, one of them strictly), sorted by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -np.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _plot_pareto(records, spec, ax):
    """``kind = "pareto"``: the metric (mean over seeds) against the ``cost`` metric (log axis), one marker per
    configuration, coloured by ``series``, labelled by its ``x`` setting (default: all its other grid settings),
    with the front of the configurations no other beats in both."""
    opts = spec.plot
    metric, cost = spec.plot_metric(), opts["cost"]
    series_key = opts.get("series")
    percent = "accuracy" in metric
    scale = 100.0 if percent else 1.0
    configs = {}
    for r in records:
        key = tuple(sorted((k, str(r["settings"].get(k))) for k in spec.grid))
        configs.setdefault(key, []).append(r)
    points, colours = [], {}
    for key, runs in configs.items():
        x = float(np.mean([r["metrics"][cost] for r in runs]))
        y = float(np.mean([r["metrics"][metric] for r in runs])) * scale
        series = dict(key).get(series_key) if series_key else None
        if series not in colours:
            colours[series] = f"C{len(colours) % 10}"
        ax.plot([x], [y], "o", ms=5, color=colours[series])
        shown = [opts["x"]] if "x" in opts else [k for k in spec.grid if k != series_key]  # [plot] x: the label
        text = ", ".join(f"{k.split('.')[-1]} {dict(key)[k]}" for k in shown)
        ax.annotate(text, (x, y), fontsize=5, xytext=(3, 2), textcoords="offset points", color="0.3")
        points.append((x, y))
    front = pareto_front(points)
    ax.plot([points[i][0] for i in front], [points[i][1] for i in front], "k-", lw=1, alpha=0.6, label="front")
    for series, colour in colours.items():
        ax.plot([], [], "o", color=colour, label=f"{series_key.split('.')[-1]} = {series}" if series_key else metric)
    ax.set_xscale(opts.get("xscale", "log"))
    ax.set_xlabel(opts.get("xlabel", cost.replace("_", " ")))
    ax.set_ylabel(opts.get("ylabel", f"{metric.replace('_', ' ')}{' (%)' if percent else ''}"))
    n_seeds = spec.seeds
    ax.set_title(textwrap.fill(opts.get("title", spec.name), 75) + f"\nmean over {n_seeds} seed{'s' if n_seeds > 1 else ''}",
                 fontsize=10)  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def plot_sweep(records, spec, ax=None):
    """Mean and spread over seeds of a sweep's metric against one grid axis.

    ``spec.plot`` chooses: ``x`` (grid key; default the first axis), ``series``
    (a grid key drawn as separate lines, one colour each), ``style`` (a second
    grid key, one line style and marker each), ``metric`` (default: the task's
    ``plot_metric``, see :meth:`~neurosim.sweep.SweepSpec.plot_metric`),
    ``reference`` (a metric drawn as a dashed line, e.g. the software
    accuracy), ``kind`` ("line" or "bar"), ``xlabel``, ``ylabel``, ``title``,
    ``xscale``. Error bars are one standard deviation over seeds. ``kind = "epochs"``
    draws a list metric per epoch instead (:func:`_plot_epochs`; ``published``, ``note``).
    """
    ax = _axes(ax)
    opts = spec.plot
    if opts.get("kind") == "epochs":
        return _plot_epochs(records, spec, ax)
    if opts.get("kind") == "pareto":
        return _plot_pareto(records, spec, ax)
    x_key = opts.get("x", next(iter(spec.grid)))
    series_key = opts.get("series")
    metric = spec.plot_metric()
    percent = "accuracy" in metric
    scale = 100.0 if percent else 1.0
    style_key = opts.get("style")
    groups = _group(records, x_key, series_key, metric, style_key)
    colours = {s: f"C{i}" for i, s in enumerate(dict.fromkeys(k[0] if style_key else k for k in groups))}
    styles = {v: i for i, v in enumerate(dict.fromkeys(k[1] for k in groups))} if style_key else {}
    kind = opts.get("kind", "line")
    width = 0.8 / max(1, len(groups))
    ref = opts.get("reference")
    ref_by_series = {}
    if ref:
        for r in records:
            ref_by_series.setdefault(r["settings"].get(series_key) if series_key else None, []).append(r["metrics"][ref])
    one_ref = len({round(float(np.mean(v)), 9) for v in ref_by_series.values()}) <= 1
    referenced = set()
    for k, (key, by_x) in enumerate(groups.items()):
        series, style = key if style_key else (key, None)
        xs = list(by_x)
        mean = np.array([np.mean(v) for v in by_x.values()]) * scale
        std = np.array([np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in by_x.values()]) * scale
        label = f"{series_key.split('.')[-1]} = {series}" if series_key else None
        if style_key:
            label = f"{label + ', ' if label else ''}{style_key.split('.')[-1]} = {style}"
        if kind == "bar":
            pos = np.arange(len(xs)) + (k - (len(groups) - 1) / 2) * width
            ax.bar(pos, mean, width, yerr=std, capsize=3, label=label)
            ax.set_xticks(np.arange(len(xs)), [str(x) for x in xs], rotation=30, ha="right")
        else:
            look = {}
            if style_key:
                i = styles[style]
                look = {"color": colours[series], "ls": ("-", ":", "-.")[i % 3], "marker": "osv^D"[i % 5]}
            line = ax.errorbar(xs, mean, yerr=std, **({"marker": "o"} | look), ms=4, capsize=3, label=label)
            if ref and not one_ref and series not in referenced:  # each series has its own baseline (e.g. different models)
                referenced.add(series)
                level = np.mean(ref_by_series[series]) * scale
                ax.axhline(level, color=line[0].get_color(), ls="--", lw=1, label=f"{ref.replace('_', ' ')} ({level:.2f}{' %' if percent else ''})")
    if ref and (one_ref or kind == "bar"):
        level = np.mean([r["metrics"][ref] for r in records]) * scale
        ax.axhline(level, color="k", ls="--", lw=1, label=f"{ref.replace('_', ' ')} ({level:.2f}{' %' if percent else ''})")
    if opts.get("xscale") == "symlog":  # a log axis that also shows x = 0
        xs = np.array([float(x) for by_x in groups.values() for x in by_x])
        ax.set_xscale("symlog", linthresh=float(xs[xs > 0].min()) if np.any(xs > 0) else 1.0)
        ax.set_xlim(xs.min(), xs.max() * 1.5)
    elif opts.get("xscale"):
        ax.set_xscale(opts["xscale"])
    ax.set_xlabel(opts.get("xlabel", x_key))
    ax.set_ylabel(opts.get("ylabel", f"{metric.replace('_', ' ')}{' (%)' if percent else ''}"))
    n_seeds = spec.seeds
    title = textwrap.fill(opts.get("title", spec.name), 75)
    ax.set_title(title + f"\nmean ± 1 s.d. over {n_seeds} seed{'s' if n_seeds > 1 else ''}", fontsize=10)
    ax.grid(alpha=0.3)
    if series_key or ref:
        ax.legend(fontsize=8, frameon=False)
    return ax


def plot_device_fit(traces, result, device, ax=None):
    """Measured traces against the fitted card (left), and one-pulse steps against conductance (right).

    ``traces``: :class:`neurosim.device.tracefile.Traces`; ``result``: its
    :class:`neurosim.device.fit.FitResult`; ``device``: the fitted card.
    ``ax``: two axes, or None for a new figure. Returns the two axes.
    """
    from neurosim.device.fit import model_trace

    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    left, right = ax
    pulse = traces.pulse
    for c in range(traces.g_S.shape[1]):
        left.plot(pulse, traces.g_S[:, c] / _uS, lw=0.6, alpha=0.6, color="0.5", label="measured" if c == 0 else None)
    first = traces.g_S[0].mean()
    left.plot(pulse, model_trace(device, traces.direction, first) / _uS, "k--", lw=1.2, label="fitted card (noiseless)")
    left.set_xlabel("pulse number")
    left.set_ylabel("conductance (µS)")
    left.set_title(f"{device.name}: NL {result.nl_ltp.value:+.2f} / {result.nl_ltd.value:+.2f}, "
                   f"{result.levels_ltp} / {result.levels_ltd} levels, C2C {100 * result.c2c_sigma_frac.value:.2g} %", fontsize=10)  # fmt: skip
    left.legend(fontsize=8, frameon=False)
    m = result.measured
    x = np.asarray(m.x)
    for sign, step, sigma, color, name in ((1, m.up_step_frac, m.up_sigma_frac, "tab:red", "potentiation"),
                                           (-1, m.down_step_frac, m.down_sigma_frac, "tab:blue", "depression")):  # fmt: skip
        rows = np.flatnonzero(traces.direction == sign)
        rows = rows[rows > 0]
        lo, hi = traces.g_S.min(axis=0), traces.g_S.max(axis=0)
        g = traces.g_S
        right.plot(((g[rows - 1] - lo) / (hi - lo)).ravel(), ((g[rows] - g[rows - 1]) / (hi - lo)).ravel(), ".",
                   ms=2, alpha=0.25, color=color)  # fmt: skip
        step, sigma = np.asarray(step), np.asarray(sigma)
        right.fill_between(x, step - sigma, step + sigma, color=color, alpha=0.2, lw=0)
        right.plot(x, step, color=color, lw=1.5, label=f"{name}: mean step ± s.d. (measured curve)")
    right.axhline(0, color="0.3", lw=0.5)
    right.set_xlabel("conductance before the pulse (fraction of the window)")
    right.set_ylabel("step of one pulse (fraction of the window)")
    right.legend(fontsize=8, frameon=False)
    left.figure.supxlabel(textwrap.fill(f"data: {traces.source}", 140), fontsize=6, color="0.4")
    return ax
