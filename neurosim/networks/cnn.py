"""Convolutional networks in NumPy: LeNet-5, exact gradients through any layer list, mini-batch training.

A network is an ordered list of :mod:`~neurosim.networks.layers` layers
(:class:`Dense`, :class:`Conv2d`, :class:`Pool2d`) with ReLU or linear
activations, the last layer giving the logits of a softmax + cross-entropy
loss. Convolutions are unrolled per mini-batch (:func:`conv.patches`), so
forward and backward passes are a few matrix products each. The update rules
(Adam, SGD with momentum) and the hardware-aware weight noise are those of
the MLP trainer (:mod:`neurosim.networks.mlp`).
"""

import logging
import math
import sys
from dataclasses import replace

import numpy as np
from scipy.special import logsumexp
from tqdm import tqdm

from neurosim.errors import NeurosimError
from neurosim.networks import conv
from neurosim.networks.layers import Activation, Conv2d, Dense, Pool2d, PoolMode, activate, check_layers, forward_layers
from neurosim.networks.mlp import (
    Optimizer,
    _adam_update,
    _check_training,
    _sgd_update,
    check_labels,
    perturb_weights,
)
from neurosim.rng import as_generator
from neurosim.validation import parse_enum

logger = logging.getLogger(__name__)


def lenet5(rng=None, channels=(6, 16), hidden=(120, 84), in_shape=(1, 28, 28), n_classes=10, kernel=5) -> list:
    """A LeNet-5-style network with He-initialised float32 weights, biases zero.

    Two stages of ``kernel x kernel`` convolution (the first padded by
    ``kernel // 2``, as LeCun et al. 1998 fed 28x28 digits padded to 32x32)
    + ReLU + 2x2 max pooling, then three dense layers (``hidden`` ReLU
    widths and ``n_classes`` logits). ReLU and max pooling replace the
    original's scaled tanh and trainable subsampling.
    """
    rng = as_generator(rng)

    def he(shape, fan_in):
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape).astype(np.float32)

    layers, shape = [], tuple(in_shape)
    for c_out, padding in zip(channels, (kernel // 2, 0)):
        c_in = shape[0]
        weight = he((c_out, c_in, kernel, kernel), c_in * kernel * kernel)
        layer = Conv2d(weight, np.zeros(c_out, np.float32), shape, 1, padding, Activation.RELU)
        pool = Pool2d(PoolMode.MAX, layer.out_shape, 2)
        layers += [layer, pool]
        shape = pool.out_shape
    widths = (int(np.prod(shape)), *hidden, n_classes)
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        activation = Activation.RELU if i < len(widths) - 2 else Activation.LINEAR
        layers.append(Dense(he((n_out, n_in), n_in), np.zeros(n_out, np.float32), activation))
    return layers


def _trainable(layers) -> list:
    layers = list(layers)
    check_layers(layers)
    for i, layer in enumerate(layers):
        if layer.activation not in (Activation.RELU, Activation.LINEAR):
            raise NeurosimError(f"layer {i} ({layer.kind}) has activation {layer.activation.value!r}; "
                                "the CNN trainer takes relu or linear layers")
    if layers[-1].activation is not Activation.LINEAR or not isinstance(layers[-1], Dense):
        raise NeurosimError("the last layer of a trained CNN must be a linear dense layer (the logits)")
    return layers


def _forward(layers, x):
    """The logits and, per layer, what its backward pass needs."""
    caches = []
    h = x
    for layer in layers:
        n = h.shape[0]
        if isinstance(layer, Dense):
            caches.append(h)
            h = activate(h @ layer.weight.T + layer.bias, layer.activation)
        elif isinstance(layer, Conv2d):
            p = layer.patches(h)
            caches.append(p)
            h = layer.outputs_from_sums(p @ layer.matrix.T, n)
        else:
            caches.append(h)
            h = layer.forward(h)
        caches[-1] = (caches[-1], h)
    return h, caches


def _backward(layers, caches, delta):
    """Gradients ``[(dW, db) or (), ...]`` for the gradient ``delta`` of the loss on the logits."""
    grads = [()] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        layer, (cache, out) = layers[i], caches[i]
        if layer.activation is Activation.RELU:
            delta = delta * (out > 0)
        n = delta.shape[0]
        if isinstance(layer, Dense):
            grads[i] = (delta.T @ cache, delta.sum(axis=0))
            if i:
                delta = delta @ layer.weight
        elif isinstance(layer, Conv2d):
            c, oh, ow = layer.out_shape
            rows = delta.reshape(n, c, oh * ow).transpose(0, 2, 1).reshape(n * oh * ow, c)
            grads[i] = ((rows.T @ cache).reshape(layer.weight.shape), rows.sum(axis=0))
            if i:
                shape = (n, *layer.in_shape)
                delta = conv.patches_backward(rows @ layer.matrix, shape, layer.kernel, layer.stride, layer.padding)
                delta = delta.reshape(n, -1)
        else:
            g = delta.reshape(n, *layer.out_shape)
            if layer.mode is PoolMode.MAX:
                delta = conv.max_pool_backward(g, cache.reshape(n, *layer.in_shape), layer.kernel, layer.stride)
            else:
                delta = conv.avg_pool_backward(g, (n, *layer.in_shape), layer.kernel, layer.stride)
            delta = delta.reshape(n, -1)
    return grads


def loss_and_gradients(layers, x, y):
    """Mean softmax cross-entropy of ``layers`` on inputs ``x (n, n_in)`` with labels ``y``, and its exact gradients.

    Gradients are listed per layer like its ``arrays``: ``(dL/dW, dL/db)``
    for dense and convolution layers, ``()`` for pooling.
    """
    layers = _trainable(layers)
    x = np.asarray(x)
    y = check_labels(y, x.shape[0], layers[-1].n_out)
    if x.shape[0] == 0:
        raise NeurosimError("the loss needs at least one sample, got an empty batch")
    return _loss_and_gradients(layers, x, y)


def _loss_and_gradients(layers, x, y):
    z, caches = _forward(layers, x)
    rows = np.arange(len(y))
    log_norm = logsumexp(z, axis=1)
    value = float(np.mean(log_norm - z[rows, y]))
    delta = np.exp(z - log_norm[:, None]).astype(z.dtype)
    delta[rows, y] -= 1
    delta /= len(y)
    return value, _backward(layers, caches, delta)


def _with_arrays(layer, arrays):
    return replace(layer, weight=arrays[0], bias=arrays[1]) if arrays else layer


def predict(layers, x, batch_size: int = 1000) -> np.ndarray:
    """Predicted classes ``(n,)`` of a layer list for inputs ``x (n, n_in)``, in batches."""
    out = [np.argmax(forward_layers(layers, x[i : i + batch_size]), axis=1) for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros(0, np.intp)


def accuracy(layers, x, y) -> float:
    """Fraction of inputs ``x`` whose predicted class is the label ``y``."""
    predicted = predict(layers, np.asarray(x, dtype=np.float32))
    return float(np.mean(predicted == check_labels(y, len(predicted), layers[-1].n_out))) if len(predicted) else 0.0


def train_cnn(
    x,
    y,
    layers,
    *,
    optimizer=Optimizer.ADAM,
    lr=1e-3,
    epochs=10,
    batch_size=64,
    momentum=0.9,
    lr_decay=1.0,
    weight_noise=0.0,
    rng=None,
    progress=None,
) -> list:
    """Train the layer list ``layers`` (initial weights, e.g. :func:`lenet5`) and return the trained layers.

    ``x``: inputs ``(n, n_in)`` (flat images), cast to float32; ``y``:
    integer labels. The keywords mean what they mean for
    :func:`~neurosim.networks.mlp.train_mlp`: ``lr`` is the first epoch's
    learning rate, multiplied by ``lr_decay`` after each epoch;
    ``weight_noise`` > 0 trains hardware-aware (each mini-batch's forward
    pass uses weights with Gaussian noise of ``weight_noise * max|W|`` per
    layer, the gradient updates the clean weights). ``rng`` seeds shuffling
    and noise. The input layers are not changed.
    """
    layers = _trainable(layers)
    optimizer = parse_enum(Optimizer, optimizer, "optimizer")
    _check_training(lr, epochs, batch_size, momentum, lr_decay, None, weight_noise)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != layers[0].n_in:
        raise NeurosimError(f"inputs must have shape (n, {layers[0].n_in}), got {x.shape}")
    y = check_labels(y, x.shape[0], layers[-1].n_out)
    if x.shape[0] == 0:
        raise NeurosimError("training needs at least one sample, got none")
    rng = as_generator(rng)
    params = [tuple(np.array(a, dtype=np.float32) for a in layer.arrays) for layer in layers]
    states = [[[np.zeros_like(a) for _ in range(1 if optimizer is Optimizer.SGD else 2)] for a in p] for p in params]
    step, n = 0, x.shape[0]
    if progress is None:
        progress = sys.stderr.isatty()
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress, file=sys.stderr)
    for epoch in bar:
        order = rng.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            used = params
            if weight_noise:
                noisy = iter(perturb_weights([p for p in params if p], weight_noise, rng))
                used = [next(noisy) if p else p for p in params]
            current = [_with_arrays(layer, p) for layer, p in zip(layers, used)]
            value, grads = _loss_and_gradients(current, x[batch], y[batch])
            total += value * len(batch)
            step += 1
            for p, g, state in zip(params, grads, states):
                for a, ga, s in zip(p, g, state):
                    if optimizer is Optimizer.SGD:
                        _sgd_update(a, ga, *s, lr=lr, momentum=momentum)
                    else:
                        _adam_update(a, ga, *s, lr=lr, step=step)
        mean_loss = total / n
        if not math.isfinite(mean_loss):
            raise NeurosimError(f"training diverged at epoch {epoch + 1} (loss {mean_loss}); lower lr (now {lr})")
        bar.set_postfix(loss=f"{mean_loss:.4f}")
        logger.info("epoch %d/%d: mean training loss %.5f (lr %.3g)", epoch + 1, epochs, mean_loss, lr)
        lr *= lr_decay
    return [_with_arrays(layer, p) for layer, p in zip(layers, params)]
