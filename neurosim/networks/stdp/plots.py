"""Figures of the plastic network: the learned receptive fields (compute and plot kept apart)."""

import math

import numpy as np


def field_mosaic(weights: np.ndarray, side: int | None = None) -> np.ndarray:
    """The input weights ``(M, N)`` as one image: each neuron's ``sqrt(M) x sqrt(M)`` field on a square grid (NaN between)."""
    m, n = weights.shape
    side = side or int(round(math.sqrt(m)))
    if side * side != m:
        raise ValueError(f"{m} inputs do not form a square image")
    cols = int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    out = np.full((rows * (side + 1) - 1, cols * (side + 1) - 1), np.nan)
    for j in range(n):
        r, c = divmod(j, cols)
        out[r * (side + 1) : r * (side + 1) + side, c * (side + 1) : c * (side + 1) + side] = weights[:, j].reshape(side, side)
    return out


def plot_receptive_fields(weights, assignments=None, ax=None):
    """Each excitatory neuron's input weights as a 28 x 28 patch; its assigned label in the corner. Returns the axes."""
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    m, n = weights.shape
    side = int(round(math.sqrt(m)))
    image = field_mosaic(weights, side)
    shown = ax.imshow(image, cmap="hot_r", interpolation="nearest", vmin=0.0)
    plt.colorbar(shown, ax=ax, fraction=0.046, label="weight")
    if assignments is not None and n <= 400:
        cols = int(math.ceil(math.sqrt(n)))
        for j in range(n):
            r, c = divmod(j, cols)
            ax.text(c * (side + 1) + 1, r * (side + 1) + 4, str(int(assignments[j])), fontsize=6, color="tab:blue")
    ax.set_axis_off()
    ax.set_title(f"learned receptive fields ({n} excitatory neurons)")
    return ax
