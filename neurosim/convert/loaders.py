"""Weight loaders: trained networks from other frameworks as neurosim ``(W, b)`` lists or layer lists.

Inside neurosim an MLP is a list of ``(W, b)`` with ``W`` of shape
``(out, in)`` (the PyTorch convention) and one hidden activation; any other
network is an ordered list of :mod:`~neurosim.networks.layers` layers
(dense, conv2d, pool2d). Each loader owns its framework's transposes:
scikit-learn's ``coefs_[i]`` are ``(in, out)``; an ONNX ``Gemm`` is
``(in, out)`` unless ``transB = 1``.

:func:`from_sklearn`, :func:`from_torch_state_dict` and :func:`from_onnx`
give dense MLPs with ReLU or sigmoid hidden units. :func:`from_torch` (an
``nn.Sequential``, its weights or a ``state_dict`` of it) and
:func:`onnx_layers` give layer lists with convolutions (groups = 1, square
kernels, zero padding), max and average pooling (no padding), flatten,
linear layers and ReLU/sigmoid, which join the layer before them. Anything
else is refused with one line naming it. Save a layer list with
:func:`~neurosim.networks.modelio.write_model_file` to evaluate it on
hardware.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.layers import Activation, Conv2d, Dense, Pool2d, PoolMode, check_layers
from neurosim.networks.mlp import check_params

_SKLEARN_ACTIVATIONS = {"relu": Activation.RELU, "logistic": Activation.SIGMOID}
_ONNX_ACTIVATIONS = {"Relu": Activation.RELU, "Sigmoid": Activation.SIGMOID}


def _checked(params, activation):
    params = [(np.asarray(w, dtype=np.float32), np.asarray(b, dtype=np.float32)) for w, b in params]
    check_params(params)
    return params, activation


def from_sklearn(model):
    """``(params, activation)`` of a fitted scikit-learn ``MLPClassifier``/``MLPRegressor``.

    The logits are the last layer's pre-activations, so the predicted class
    (arg-max) equals ``model.predict`` for multi-class classifiers.
    """
    if not hasattr(model, "coefs_"):
        raise NeurosimError(f"expected a fitted scikit-learn MLP (with coefs_), got {type(model).__name__}")
    activation = _SKLEARN_ACTIVATIONS.get(model.activation)
    if activation is None:
        raise NeurosimError(
            f"scikit-learn activation {model.activation!r} is not supported; use one of {sorted(_SKLEARN_ACTIVATIONS)}"
        )
    return _checked([(w.T, b) for w, b in zip(model.coefs_, model.intercepts_)], activation)


def from_torch_state_dict(state_dict, activation="relu"):
    """``(params, activation)`` from a PyTorch ``state_dict`` of ``nn.Linear`` layers in order.

    Every 2-D ``*.weight`` with its ``*.bias`` is one layer (already ``(out, in)``);
    the state dict does not record the activation, so it is passed in.
    """
    try:
        activation = Activation(activation) if not isinstance(activation, Activation) else activation
    except ValueError:
        raise NeurosimError(f"activation {activation!r} must be one of {[a.value for a in Activation]}") from None
    params = []
    for key, value in state_dict.items():
        if not key.endswith(".weight"):
            continue
        weight = _to_numpy(value)
        if weight.ndim != 2:
            raise NeurosimError(f"state_dict entry {key!r} has shape {weight.shape}; only Linear (2-D) layers convert")
        bias_key = key[: -len("weight")] + "bias"
        bias = _to_numpy(state_dict[bias_key]) if bias_key in state_dict else np.zeros(weight.shape[0], np.float32)
        params.append((weight, bias))
    if not params:
        raise NeurosimError("the state_dict holds no '*.weight' entries of Linear layers")
    return _checked(params, activation)


def _to_numpy(tensor) -> np.ndarray:
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().numpy()
    return np.asarray(tensor, dtype=np.float32)


def _numpy_helper():
    from onnx import numpy_helper

    return numpy_helper


def _read_onnx(path):
    """``(onnx module, loaded model)``; a missing package or an unreadable file is one clear error."""
    try:
        import onnx
    except ImportError:
        raise NeurosimError("loading ONNX files needs the optional 'onnx' package: pip install onnx") from None
    path = Path(path)
    try:
        return onnx, onnx.load(str(path))
    except FileNotFoundError:
        raise NeurosimError(f"{path}: no such ONNX file") from None
    except Exception as exc:  # onnx raises DecodeError and others for corrupt files
        raise NeurosimError(f"{path}: not a readable ONNX model ({exc})") from None


def from_onnx(path):
    """``(params, activation)`` from an ONNX file of a dense MLP.

    Understands ``Gemm`` (any ``transB``, ``alpha``, ``beta``; ``transA = 0``),
    ``MatMul`` followed by ``Add``, ``Relu``/``Sigmoid`` between layers, and
    leading ``Flatten``/``Reshape`` and trailing ``Softmax`` (which leave the
    predicted class unchanged). Needs the optional ``onnx`` package.
    """
    onnx, model = _read_onnx(path)
    path = Path(path)
    init = {t.name: _numpy_helper().to_array(t) for t in model.graph.initializer}

    def constant(name):
        if name not in init:
            raise NeurosimError(f"{path}: input {name!r} is not a stored weight; only constant weights convert")
        return init[name]

    params, activations, pending = [], set(), None
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Gemm":
            if attrs.get("transA", 0):
                raise NeurosimError(f"{path}: Gemm with transA = 1 is not supported")
            b_mat = constant(node.input[1])
            w = (b_mat if attrs.get("transB", 0) else b_mat.T) * attrs.get("alpha", 1.0)
            bias = constant(node.input[2]) * attrs.get("beta", 1.0) if len(node.input) > 2 else np.zeros(w.shape[0])
            params.append((w, np.broadcast_to(bias, (w.shape[0],))))
        elif node.op_type == "MatMul":
            pending = constant(node.input[1]).T
            params.append((pending, np.zeros(pending.shape[0], np.float32)))
        elif node.op_type == "Add" and pending is not None:
            bias_name = next(i for i in node.input if i in init)
            params[-1] = (pending, np.broadcast_to(init[bias_name], (pending.shape[0],)))
            pending = None
        elif node.op_type in _ONNX_ACTIVATIONS:
            activations.add(_ONNX_ACTIVATIONS[node.op_type])
        elif node.op_type in ("Flatten", "Reshape", "Softmax", "Identity"):
            continue
        else:
            raise NeurosimError(f"{path}: ONNX operator {node.op_type!r} is not supported in a dense MLP "
                                "(onnx_layers converts convolutional networks)")
    if not params:
        raise NeurosimError(f"{path}: no Gemm or MatMul layers found")
    if len(activations) > 1:
        raise NeurosimError(f"{path}: mixed hidden activations {sorted(a.value for a in activations)} are not supported")
    return _checked(params, activations.pop() if activations else Activation.RELU)


class _Builder:
    """Builds a layer list from framework layers in order, tracking the image shape (None once flat)."""

    def __init__(self, where: str, in_shape):
        self.where = where
        self.layers = []
        self.shape = None if in_shape is None else tuple(int(v) for v in in_shape)

    def fail(self, message: str):
        raise NeurosimError(f"{self.where}: {message}")

    def image_shape(self, what: str) -> tuple:
        if self.shape is None:
            self.fail(f"{what} needs image inputs: give in_shape=(channels, height, width)"
                      + (" (it follows a Flatten or a dense layer)" if self.layers else ""))
        return self.shape

    def conv(self, weight, bias, stride, padding, what: str):
        weight = np.asarray(weight, dtype=np.float32)
        bias = np.zeros(weight.shape[0], np.float32) if bias is None else np.asarray(bias, dtype=np.float32)
        try:
            layer = Conv2d(weight, bias, self.image_shape(what), stride, padding)
        except NeurosimError as exc:
            self.fail(f"{what}: {exc}")
        self.layers.append(layer)
        self.shape = layer.out_shape

    def pool(self, mode: PoolMode, kernel, stride, what: str):
        try:
            layer = Pool2d(mode, self.image_shape(what), kernel, stride)
        except NeurosimError as exc:
            self.fail(f"{what}: {exc}")
        self.layers.append(layer)
        self.shape = layer.out_shape

    def flatten(self):
        self.shape = None

    def dense(self, weight, bias, what: str):
        weight = np.asarray(weight, dtype=np.float32)
        if self.shape is not None and self.layers:
            self.fail(f"{what} follows image layers without a Flatten")
        bias = np.zeros(weight.shape[0], np.float32) if bias is None else np.asarray(bias, dtype=np.float32)
        try:
            self.layers.append(Dense(weight, np.broadcast_to(bias, (weight.shape[0],)).copy()))
        except NeurosimError as exc:
            self.fail(f"{what}: {exc}")
        self.shape = None

    def activation(self, activation: Activation, what: str):
        if not self.layers:
            self.fail(f"{what} before any weighted layer is not supported (inputs go straight to the first layer)")
        last = self.layers[-1]
        if last.activation is activation:
            return  # ReLU twice is ReLU
        if last.activation is not Activation.LINEAR:
            self.fail(f"{what} after a {last.activation.value} activation is not supported")
        self.layers[-1] = replace(last, activation=activation)

    def result(self) -> list:
        if not any(layer.arrays for layer in self.layers):
            self.fail("no convolution or linear layers found")
        try:
            check_layers(self.layers)
        except NeurosimError as exc:
            self.fail(str(exc))
        return self.layers


def _pair(value, what: str, fail) -> int:
    """A torch size argument (int or a pair of equal ints) as one int."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(set(values)) != 1:
        fail(f"{what} = {value!r} is not supported: only square (equal) sizes")
    return int(values[0])


_TORCH_SUPPORTED = "Conv2d, MaxPool2d, AvgPool2d, Flatten, Linear, ReLU, Sigmoid (and Dropout, Identity: no-ops)"


def from_torch(model, in_shape=None, state_dict=None) -> list:
    """The layer list of a PyTorch ``nn.Sequential`` (nested ones are walked in order).

    ``in_shape``: ``(channels, height, width)`` of one input image, needed
    when the network starts with a convolution or pooling. ``state_dict``:
    weights to use instead of the module's own (the keys of
    ``model.state_dict()``), so a saved ``state_dict`` converts with the
    ``nn.Sequential`` that it belongs to. Needs torch only for ``model``.
    The layers compute what ``model.eval()`` computes (Dropout is the
    identity there).
    """
    import torch.nn as nn

    builder = _Builder(f"torch model {type(model).__name__}", in_shape)
    weights = {k: _to_numpy(v) for k, v in (model.state_dict() if state_dict is None else state_dict).items()}

    def param(name, key, required=True):
        full = f"{name}.{key}" if name else key
        if full not in weights:
            if required:
                builder.fail(f"the state_dict has no entry {full!r}")
            return None
        return weights[full]

    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    if not leaves and not list(model.children()):
        leaves = [("", model)]
    for name, module in leaves:
        kind = type(module).__name__
        what = f"{kind} (module {name!r})"
        fail = lambda message, what=what: builder.fail(f"{what}: {message}")  # noqa: E731
        if isinstance(module, nn.Conv2d):
            if module.groups != 1 or _pair(module.dilation, "dilation", fail) != 1:
                fail("only groups = 1 and dilation = 1 are supported")
            if module.padding_mode != "zeros":
                fail(f"padding_mode {module.padding_mode!r} is not supported (only zeros)")
            kernel = _pair(module.kernel_size, "kernel_size", fail)
            stride = _pair(module.stride, "stride", fail)
            padding = module.padding
            if padding == "valid":
                padding = 0
            elif padding == "same":
                if kernel % 2 == 0 or stride != 1:
                    fail("padding 'same' is supported only for odd kernels with stride 1")
                padding = kernel // 2
            builder.conv(param(name, "weight"), param(name, "bias", module.bias is not None), stride,
                         _pair(padding, "padding", fail), what)
        elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            if _pair(module.padding, "padding", fail) != 0 or module.ceil_mode:
                fail("only padding = 0 and ceil_mode = False are supported")
            if isinstance(module, nn.MaxPool2d) and (_pair(module.dilation, "dilation", fail) != 1 or module.return_indices):
                fail("only dilation = 1 without return_indices is supported")
            if isinstance(module, nn.AvgPool2d) and module.divisor_override is not None:
                fail("divisor_override is not supported")
            kernel = _pair(module.kernel_size, "kernel_size", fail)
            stride = _pair(module.stride if module.stride is not None else kernel, "stride", fail)
            mode = PoolMode.MAX if isinstance(module, nn.MaxPool2d) else PoolMode.AVG
            builder.pool(mode, kernel, stride, what)
        elif isinstance(module, nn.Flatten):
            if module.start_dim != 1 or module.end_dim != -1:
                fail("only Flatten(start_dim=1, end_dim=-1) is supported")
            builder.flatten()
        elif isinstance(module, nn.Linear):
            builder.dense(param(name, "weight"), param(name, "bias", module.bias is not None), what)
        elif isinstance(module, (nn.ReLU, nn.Sigmoid)):
            builder.activation(Activation.RELU if isinstance(module, nn.ReLU) else Activation.SIGMOID, what)
        elif isinstance(module, (nn.Dropout, nn.Identity)):
            continue
        else:
            builder.fail(f"layer {what} is not supported; supported: {_TORCH_SUPPORTED}")
    return builder.result()


def _ints(value, n_expected: int, what: str, fail) -> tuple:
    values = tuple(int(v) for v in value)
    if len(values) != n_expected:
        fail(f"{what} = {list(values)} must have {n_expected} entries")
    return values


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _onnx_square(values, what: str, fail) -> int:
    if len(set(values)) != 1:
        fail(f"{what} = {list(values)} is not supported: only equal sizes on every axis and side")
    return values[0]


_ONNX_SUPPORTED = "Conv, MaxPool, AveragePool, Flatten, Gemm, MatMul + Add, Relu, Sigmoid (and Reshape, Softmax, Identity)"


def onnx_layers(path, in_shape=None) -> list:
    """The layer list of an ONNX file whose operators form one chain.

    Understands ``Conv`` (groups 1, dilations 1, equal ``pads``, square
    ``kernel_shape`` and ``strides``), ``MaxPool`` and ``AveragePool`` (no
    padding, ``ceil_mode`` 0), ``Flatten`` (axis 1), ``Gemm`` (any
    ``transB``, ``alpha``, ``beta``; ``transA`` 0), ``MatMul`` + ``Add``,
    ``Relu`` and ``Sigmoid`` (joining the layer before), and ``Reshape``
    (taken as a flatten), ``Identity`` and a trailing ``Softmax`` (which
    leaves the predicted class unchanged). ``in_shape``: ``(channels,
    height, width)`` when the graph's input does not state it. Needs the
    optional ``onnx`` package.
    """
    onnx, model = _read_onnx(path)
    init = {t.name: _numpy_helper().to_array(t) for t in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in init]
    if in_shape is None and graph_inputs:
        dims = [d.dim_value for d in graph_inputs[0].type.tensor_type.shape.dim]
        if len(dims) == 4 and all(dims[1:]):
            in_shape = tuple(dims[1:])
    builder = _Builder(str(path), in_shape)

    def constant(name):
        if name not in init:
            builder.fail(f"input {name!r} is not a stored weight; only constant weights convert")
        return init[name]

    pending = None
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        op, what = node.op_type, f"{node.op_type} node {node.name or node.output[0]!r}"
        fail = lambda message, what=what: builder.fail(f"{what}: {message}")  # noqa: E731
        if pending is not None and op != "Add":
            builder.dense(pending, None, "MatMul")
            pending = None
        if op == "Conv":
            weight = constant(node.input[1])
            if attrs.get("group", 1) != 1 or set(attrs.get("dilations", [1])) != {1}:
                fail("only group = 1 and dilations = 1 are supported")
            kernel = _onnx_square(_ints(attrs.get("kernel_shape", weight.shape[2:]), 2, "kernel_shape", fail), "kernel_shape", fail)
            if weight.ndim != 4 or tuple(weight.shape[2:]) != (kernel, kernel):
                fail(f"weight of shape {weight.shape} does not match kernel_shape {kernel}x{kernel}")
            stride = _onnx_square(_ints(attrs.get("strides", (1, 1)), 2, "strides", fail), "strides", fail)
            padding = _onnx_square(_ints(attrs.get("pads", (0, 0, 0, 0)), 4, "pads", fail), "pads", fail)
            auto_pad = _text(attrs.get("auto_pad", "NOTSET"))
            if auto_pad == "VALID":
                padding = 0
            elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
                if kernel % 2 == 0 or stride != 1:
                    fail(f"auto_pad {auto_pad} is supported only for odd kernels with stride 1")
                padding = kernel // 2  # the same on both sides then
            elif auto_pad != "NOTSET":
                fail(f"auto_pad {auto_pad!r} is not supported")
            bias = constant(node.input[2]) if len(node.input) > 2 and node.input[2] else None
            builder.conv(weight, bias, stride, padding, what)
        elif op in ("MaxPool", "AveragePool"):
            if set(attrs.get("pads", [0])) != {0} or attrs.get("ceil_mode", 0) or set(attrs.get("dilations", [1])) != {1}:
                fail("only pads 0, ceil_mode 0 and dilations 1 are supported")
            if _text(attrs.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID"):
                fail(f"auto_pad {_text(attrs['auto_pad'])!r} is not supported")
            if len(node.output) > 1:
                fail("MaxPool with an Indices output is not supported")
            kernel = _onnx_square(_ints(attrs["kernel_shape"], 2, "kernel_shape", fail), "kernel_shape", fail)
            stride = _onnx_square(_ints(attrs.get("strides", (1, 1)), 2, "strides", fail), "strides", fail)
            builder.pool(PoolMode.MAX if op == "MaxPool" else PoolMode.AVG, kernel, stride, what)
        elif op == "Flatten":
            if attrs.get("axis", 1) != 1:
                fail("only axis = 1 is supported")
            builder.flatten()
        elif op == "Reshape":
            builder.flatten()
        elif op == "Gemm":
            if attrs.get("transA", 0):
                fail("transA = 1 is not supported")
            b_mat = constant(node.input[1])
            w = (b_mat if attrs.get("transB", 0) else b_mat.T) * attrs.get("alpha", 1.0)
            bias = constant(node.input[2]) * attrs.get("beta", 1.0) if len(node.input) > 2 and node.input[2] else None
            builder.dense(w, bias, what)
        elif op == "MatMul":
            pending = constant(node.input[1]).T
        elif op == "Add" and pending is not None:
            bias = next((init[i] for i in node.input if i in init), None)
            if bias is None:
                fail("only the addition of a stored bias after MatMul is supported")
            builder.dense(pending, bias, "MatMul + Add")
            pending = None
        elif op in _ONNX_ACTIVATIONS:
            builder.activation(_ONNX_ACTIVATIONS[op], what)
        elif op in ("Softmax", "Identity"):
            continue
        else:
            builder.fail(f"ONNX operator {op!r} is not supported; supported: {_ONNX_SUPPORTED}")
    if pending is not None:
        builder.dense(pending, None, "MatMul")
    return builder.result()
