"""Weight loaders: trained networks from other frameworks as neurosim ``(W, b)`` lists.

Inside neurosim a network is a list of ``(W, b)`` with ``W`` of shape
``(out, in)`` (the PyTorch convention) and one hidden activation. Each loader
owns its framework's transposes: scikit-learn's ``coefs_[i]`` are
``(in, out)``; an ONNX ``Gemm`` is ``(in, out)`` unless ``transB = 1``.
Only dense multi-layer perceptrons with ReLU or sigmoid hidden units convert.
"""

from pathlib import Path

import numpy as np

from neurosim.errors import NeurosimError
from neurosim.networks.mlp import Activation, check_params

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


def from_onnx(path):
    """``(params, activation)`` from an ONNX file of a dense MLP.

    Understands ``Gemm`` (any ``transB``, ``alpha``, ``beta``; ``transA = 0``),
    ``MatMul`` followed by ``Add``, ``Relu``/``Sigmoid`` between layers, and
    leading ``Flatten``/``Reshape`` and trailing ``Softmax`` (which leave the
    predicted class unchanged). Needs the optional ``onnx`` package.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise NeurosimError("loading ONNX files needs the optional 'onnx' package: pip install onnx") from None
    path = Path(path)
    try:
        model = onnx.load(str(path))
    except FileNotFoundError:
        raise NeurosimError(f"{path}: no such ONNX file") from None
    except Exception as exc:  # onnx raises DecodeError and others for corrupt files
        raise NeurosimError(f"{path}: not a readable ONNX model ({exc})") from None
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

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
            raise NeurosimError(f"{path}: ONNX operator {node.op_type!r} is not supported in a dense MLP")
    if not params:
        raise NeurosimError(f"{path}: no Gemm or MatMul layers found")
    if len(activations) > 1:
        raise NeurosimError(f"{path}: mixed hidden activations {sorted(a.value for a in activations)} are not supported")
    return _checked(params, activations.pop() if activations else Activation.RELU)
