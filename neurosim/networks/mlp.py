"""Multi-layer perceptron in NumPy: forward pass, exact gradients, mini-batch training.

Weights follow the library convention (design 3.10): ``params`` is a list of
``(W, b)`` pairs, one per layer, ``W`` of shape ``(out, in)`` and ``b`` of shape
``(out,)``, so a layer computes ``z = x @ W.T + b`` for row inputs ``x (n, in)``.
Hidden layers apply the :class:`~neurosim.networks.layers.Activation` (ReLU or
sigmoid: :data:`TRAINABLE`); the last layer's ``z`` are the
logits, turned into a loss by the :class:`Output` (softmax + cross-entropy, or
NeuroSim's sigmoid + squared error). The numerical functions are pure and keep
the dtype of the weights (float64 weights give float64 gradients, which the
tests use for finite differences); :func:`train_mlp` works in float32.
"""

import logging
import math
import numbers
import sys
from enum import Enum

import numpy as np
from scipy.special import expit, logsumexp
from tqdm import tqdm

from neurosim.errors import NeurosimError
from neurosim.networks.layers import Activation, activate
from neurosim.rng import as_generator
from neurosim.validation import parse_enum, reject

logger = logging.getLogger(__name__)


#: Hidden activations an MLP is trained with (they have the exact gradients used here).
TRAINABLE = (Activation.RELU, Activation.SIGMOID)


def trainable_activation(activation) -> Activation:
    """The :class:`Activation` for ``activation`` (member or string), which must be in :data:`TRAINABLE`."""
    activation = parse_enum(Activation, activation, "activation")
    if activation not in TRAINABLE:
        reject("activation", activation.value, f"one of {[a.value for a in TRAINABLE]} for the hidden units of an MLP")
    return activation


class Output(Enum):
    """Output nonlinearity and the loss it is trained with (mean over the batch).

    ``SOFTMAX_CROSS_ENTROPY``: ``-log softmax(z)[label]``.
    ``SIGMOID_SQUARED_ERROR``: ``0.5 * sum_k (sigmoid(z_k) - onehot_k)**2``, the
    output layer of NeuroSim's reference MLP.
    """

    SOFTMAX_CROSS_ENTROPY = "softmax_cross_entropy"
    SIGMOID_SQUARED_ERROR = "sigmoid_squared_error"


class Optimizer(Enum):
    """Update rule: SGD with (heavy-ball) momentum, or Adam."""

    SGD = "sgd"
    ADAM = "adam"


def check_sizes(sizes) -> tuple[int, ...]:
    """Validate layer widths ``(inputs, hidden..., outputs)``: at least two positive integers."""
    sizes = tuple(sizes)
    if len(sizes) < 2 or any(
        isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in sizes
    ):
        raise NeurosimError(
            f"sizes must be at least two positive integers (inputs, ..., outputs), got {sizes!r}"
        )
    return tuple(int(s) for s in sizes)


def check_params(params) -> tuple[int, ...]:
    """Validate a list of ``(W, b)`` layers and return the layer widths.

    Each ``W`` must be a finite 2-D float array ``(out, in)``, each ``b`` a
    finite 1-D float array ``(out,)``, and each layer's ``in`` must equal the
    previous layer's ``out``.
    """
    params = list(params)
    if not params:
        raise NeurosimError("params must hold at least one (W, b) layer, got none")
    sizes = []
    for i, layer in enumerate(params):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise NeurosimError(f"layer {i} must be a (W, b) pair, got {type(layer).__name__}")
        w, b = (np.asarray(a) for a in layer)
        if w.ndim != 2 or b.ndim != 1 or b.shape[0] != w.shape[0]:
            raise NeurosimError(
                f"layer {i}: W must be (out, in) and b (out,), got W {w.shape} and b {b.shape}"
            )
        if 0 in w.shape:
            raise NeurosimError(f"layer {i}: W has shape {w.shape}; every layer needs at least one input and one output")
        for name, a in (("W", w), ("b", b)):
            if not np.issubdtype(a.dtype, np.floating):
                raise NeurosimError(f"layer {i}: {name} must hold floats, got dtype {a.dtype}")
            if not np.all(np.isfinite(a)):
                raise NeurosimError(f"layer {i}: {name} holds NaN or infinite values; weights must be finite")
        if i == 0:
            sizes.append(w.shape[1])
        elif w.shape[1] != sizes[-1]:
            raise NeurosimError(
                f"layer {i}: W has {w.shape[1]} inputs but layer {i - 1} has {sizes[-1]} outputs"
            )
        sizes.append(w.shape[0])
    return tuple(sizes)


def init_mlp(sizes, rng=None, *, activation=Activation.RELU) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return float32 initial weights for layer widths ``sizes``, biases zero.

    ReLU layers draw ``W ~ N(0, 2 / fan_in)`` (He); sigmoid layers draw
    ``W ~ U(-l, l)``, ``l = sqrt(6 / (fan_in + fan_out))`` (Glorot).
    """
    sizes = check_sizes(sizes)
    activation = trainable_activation(activation)
    rng = as_generator(rng)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        if activation is Activation.RELU:
            w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_out, fan_in))
        else:
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            w = rng.uniform(-limit, limit, size=(fan_out, fan_in))
        params.append((w.astype(np.float32), np.zeros(fan_out, dtype=np.float32)))
    return params


def _inputs(x, n_in: int, dtype) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != n_in:
        raise NeurosimError(f"inputs must have shape (n, {n_in}), got {x.shape}")
    x = x.astype(dtype, copy=False)
    if not np.all(np.isfinite(x)):
        raise NeurosimError("inputs hold NaN or infinite values")
    return x


def check_labels(y, n: int, n_classes: int) -> np.ndarray:
    """``y`` as class indices, refused unless it holds ``n`` integers in ``0 .. n_classes - 1``."""
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise NeurosimError(f"labels must be integers of shape ({n},), got {y.dtype} of shape {y.shape}")
    if n and (y.min() < 0 or y.max() >= n_classes):
        raise NeurosimError(f"labels must lie in 0..{n_classes - 1}, got values {y.min()}..{y.max()}")
    return y.astype(np.intp)


def _forward(params, x, activation):
    """Return the layer inputs ``[x, h1, ...]`` and the logits."""
    inputs = [x]
    for w, b in params[:-1]:
        inputs.append(activate(inputs[-1] @ w.T + b, activation))
    w, b = params[-1]
    return inputs, inputs[-1] @ w.T + b


def forward(params, x, activation) -> np.ndarray:
    """Return the logits ``(n, outputs)`` (last-layer pre-activations) for inputs ``x (n, inputs)``.

    ``softmax`` (or ``sigmoid``) of the logits gives class probabilities
    (scores); both are monotonic, so the arg-max is the predicted class.
    """
    sizes = check_params(params)
    activation = parse_enum(Activation, activation, "activation")
    x = _inputs(x, sizes[0], np.result_type(params[0][0].dtype, np.float32))
    return _forward(params, x, activation)[1]


def predict(params, x, activation) -> np.ndarray:
    """Return the predicted class ``(n,)`` (index of the largest logit) for inputs ``x``."""
    return np.argmax(forward(params, x, activation), axis=1)


def accuracy(params, x, y, activation) -> float:
    """Return the fraction of rows of ``x`` whose predicted class equals the label in ``y``."""
    predicted = predict(params, x, activation)
    y = check_labels(y, len(predicted), params[-1][0].shape[0])
    return float(np.mean(predicted == y)) if len(y) else 0.0


def _loss_and_gradients(params, x, y, activation, output):
    inputs, z = _forward(params, x, activation)
    n = x.shape[0]
    rows = np.arange(n)
    if output is Output.SOFTMAX_CROSS_ENTROPY:
        log_norm = logsumexp(z, axis=1)
        value = float(np.mean(log_norm - z[rows, y]))
        delta = np.exp(z - log_norm[:, None])
        delta[rows, y] -= 1
    else:
        a = expit(z)
        error = a.copy()
        error[rows, y] -= 1
        value = float(0.5 * np.mean(np.sum(error * error, axis=1)))
        delta = error * a * (1 - a)
    delta /= n
    grads = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        grads[i] = (delta.T @ inputs[i], delta.sum(axis=0))
        if i:
            h = inputs[i]
            slope = h * (1 - h) if activation is Activation.SIGMOID else (h > 0).astype(h.dtype)
            delta = (delta @ params[i][0]) * slope
    return value, grads


def loss_and_gradients(params, x, y, *, activation, output=Output.SOFTMAX_CROSS_ENTROPY):
    """Return the mean loss over the batch and its gradient for every ``(W, b)``.

    Gradients are exact (backpropagation), listed like ``params`` as
    ``(dL/dW, dL/db)`` pairs with the same shapes and dtype.
    """
    sizes = check_params(params)
    activation = trainable_activation(activation)
    output = parse_enum(Output, output, "output")
    x = _inputs(x, sizes[0], np.result_type(params[0][0].dtype, np.float32))
    y = check_labels(y, x.shape[0], sizes[-1])
    if x.shape[0] == 0:
        raise NeurosimError("the loss needs at least one sample, got an empty batch")
    return _loss_and_gradients(params, x, y, activation, output)


def loss(params, x, y, *, activation, output=Output.SOFTMAX_CROSS_ENTROPY) -> float:
    """Return the mean loss of ``params`` on inputs ``x`` with integer labels ``y``."""
    return loss_and_gradients(params, x, y, activation=activation, output=output)[0]


def perturb_weights(params, weight_noise: float, rng=None):
    """Return ``params`` with additive Gaussian noise on every weight matrix.

    Each layer gets ``W + N(0, (weight_noise * max|W|)**2)`` drawn independently
    per weight: state-independent noise with a standard deviation that is a
    fraction ``weight_noise`` of the layer's weight range, like a device whose
    programming noise is a fraction of ``G_max`` when ``max|W|`` maps to ``G_max``.
    Biases are returned unchanged.
    """
    if not weight_noise >= 0:
        raise NeurosimError(f"weight_noise must be >= 0, got {weight_noise!r}")
    rng = as_generator(rng)
    noisy = []
    for w, b in params:
        sigma = weight_noise * float(np.max(np.abs(w)))
        noise = rng.standard_normal(w.shape, dtype=np.float32 if w.dtype == np.float32 else np.float64)
        noisy.append((w + (sigma * noise).astype(w.dtype, copy=False), b))
    return noisy


ADAM_BETA1, ADAM_BETA2, ADAM_EPS = 0.9, 0.999, 1e-8


def _sgd_update(a, g, velocity, *, lr, momentum):
    """In place: ``velocity = momentum * velocity - lr * g``, then ``a += velocity``."""
    velocity *= momentum
    velocity -= lr * g
    a += velocity


def _adam_update(a, g, m, v, *, lr, step):
    """In place: one Adam step (Kingma & Ba 2015) at 1-based ``step`` with moment estimates ``m, v``."""
    m += (1 - ADAM_BETA1) * (g - m)
    v += (1 - ADAM_BETA2) * (g * g - v)
    m_hat = m / (1 - ADAM_BETA1**step)
    v_hat = v / (1 - ADAM_BETA2**step)
    a -= lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)


def _check_training(lr, epochs, batch_size, momentum, lr_decay, weight_clip, weight_noise):
    if isinstance(lr, bool) or not (isinstance(lr, numbers.Real) and lr > 0 and math.isfinite(lr)):
        raise NeurosimError(f"lr must be a positive finite number, got {lr!r}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise NeurosimError(f"{name} must be a positive integer, got {value!r}")
    if not 0.0 <= momentum < 1.0:
        raise NeurosimError(f"momentum must lie in [0, 1), got {momentum!r}")
    if not 0.0 < lr_decay <= 1.0:
        raise NeurosimError(f"lr_decay (learning-rate factor per epoch) must lie in (0, 1], got {lr_decay!r}")
    if weight_clip is not None and not weight_clip > 0:
        raise NeurosimError(f"weight_clip must be None or > 0, got {weight_clip!r}")
    if not (weight_noise >= 0 and math.isfinite(weight_noise)):
        raise NeurosimError(f"weight_noise must be a finite number >= 0, got {weight_noise!r}")


def train_mlp(
    x,
    y,
    sizes,
    *,
    activation=Activation.RELU,
    output=Output.SOFTMAX_CROSS_ENTROPY,
    optimizer=Optimizer.ADAM,
    lr=1e-3,
    epochs=10,
    batch_size=64,
    momentum=0.9,
    lr_decay=1.0,
    weight_clip=None,
    weight_noise=0.0,
    rng=None,
    progress=None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train an MLP with mini-batches and return its float32 ``(W, b)`` layers.

    Parameters
    ----------
    x : inputs ``(n, sizes[0])``, cast to float32.
    y : integer labels ``(n,)`` in ``0 .. sizes[-1] - 1``.
    sizes : layer widths ``(inputs, hidden..., outputs)``.
    activation, output, optimizer : :class:`Activation`, :class:`Output`,
        :class:`Optimizer` members or their string values.
    lr : learning rate of the first epoch; multiplied by ``lr_decay`` after each epoch.
    epochs : passes over the shuffled training set.
    batch_size : samples per update; the last batch of an epoch may be smaller.
    momentum : SGD momentum (``v = momentum * v - lr * g; w += v``); Adam uses
        ``beta1 = 0.9, beta2 = 0.999, eps = 1e-8`` and ignores it.
    weight_clip : if set, weights and biases are clipped to
        ``[-weight_clip, weight_clip]`` after every update (a bounded
        conductance window).
    weight_noise : hardware-aware training: every training forward pass uses
        weights perturbed by :func:`perturb_weights` (additive Gaussian,
        standard deviation ``weight_noise * max|W|`` per layer, fresh draw per
        mini-batch); the gradient at the noisy weights updates the clean ones.
    rng : seed or Generator for the initial weights, the shuffling and the noise.
    progress : show a tqdm bar over epochs; None (default) shows it only when
        stderr is a terminal.
    """
    sizes = check_sizes(sizes)
    activation = trainable_activation(activation)
    output = parse_enum(Output, output, "output")
    optimizer = parse_enum(Optimizer, optimizer, "optimizer")
    _check_training(lr, epochs, batch_size, momentum, lr_decay, weight_clip, weight_noise)
    x = _inputs(x, sizes[0], np.float32)
    y = check_labels(y, x.shape[0], sizes[-1])
    if x.shape[0] == 0:
        raise NeurosimError("training needs at least one sample, got none")
    rng = as_generator(rng)
    params = init_mlp(sizes, rng, activation=activation)
    arrays = [a for layer in params for a in layer]
    n_moments = 1 if optimizer is Optimizer.SGD else 2
    states = [[np.zeros_like(a) for _ in range(n_moments)] for a in arrays]
    step = 0
    n = x.shape[0]
    if progress is None:
        progress = sys.stderr.isatty()
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress, file=sys.stderr)
    for epoch in bar:
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            used = perturb_weights(params, weight_noise, rng) if weight_noise else params
            value, grads = _loss_and_gradients(used, x[batch], y[batch], activation, output)
            total += value * len(batch)
            step += 1
            for a, g, state in zip(arrays, (g for layer in grads for g in layer), states):
                if optimizer is Optimizer.SGD:
                    _sgd_update(a, g, *state, lr=lr, momentum=momentum)
                else:
                    _adam_update(a, g, *state, lr=lr, step=step)
                if weight_clip is not None:
                    np.clip(a, -weight_clip, weight_clip, out=a)
        mean_loss = total / n
        if not math.isfinite(mean_loss):
            raise NeurosimError(
                f"training diverged at epoch {epoch + 1} (loss {mean_loss}); lower lr (now {lr})"
            )
        bar.set_postfix(loss=f"{mean_loss:.4f}")
        logger.info("epoch %d/%d: mean training loss %.5f (lr %.3g)", epoch + 1, epochs, mean_loss, lr)
        lr *= lr_decay
    return params
