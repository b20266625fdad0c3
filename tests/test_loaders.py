"""Weight loaders reproduce each source framework's own outputs."""

import numpy as np
import pytest

from neurosim.convert.loaders import from_onnx, from_sklearn, from_torch_state_dict
from neurosim.errors import NeurosimError
from neurosim.networks.mlp import Activation, forward


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y


@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_sklearn_mlp(digits, activation):
    from sklearn.neural_network import MLPClassifier

    x, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(32, 16), activation=activation, max_iter=60, random_state=0).fit(x, y)
    params, act = from_sklearn(clf)
    assert act is (Activation.RELU if activation == "relu" else Activation.SIGMOID)
    assert [w.shape for w, _ in params] == [(32, 64), (16, 32), (10, 16)]
    logits = forward(params, x, act)
    z = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, clf.predict_proba(x), atol=2e-5)
    np.testing.assert_array_equal(np.argmax(logits, axis=1), clf.predict(x))


def test_sklearn_rejects_unsupported(digits):
    from sklearn.neural_network import MLPClassifier

    x, y = digits
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", max_iter=5, random_state=0).fit(x, y)
    with pytest.raises(NeurosimError, match="tanh"):
        from_sklearn(clf)
    with pytest.raises(NeurosimError, match="fitted"):
        from_sklearn(object())


def test_torch_state_dict(digits):
    torch = pytest.importorskip("torch")
    x, _ = digits
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 20), torch.nn.Sigmoid(), torch.nn.Linear(20, 10))
    params, act = from_torch_state_dict(net.state_dict(), "sigmoid")
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(forward(params, x, act), expected, rtol=1e-5, atol=1e-5)
    bad = dict(net.state_dict())
    bad["0.weight"] = bad["0.weight"].clone()
    bad["0.weight"][0, 0] = float("nan")
    with pytest.raises(NeurosimError, match="NaN"):
        from_torch_state_dict(bad, "sigmoid")
    with pytest.raises(NeurosimError, match="only Linear"):
        from_torch_state_dict({"conv.weight": torch.zeros(3, 3, 3)})


def _onnx_mlp(path, rng, trans_b):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w1 = rng.standard_normal((64, 24)).astype(np.float32) * 0.3  # (in, out)
    b1 = rng.standard_normal(24).astype(np.float32)
    w2 = rng.standard_normal((24, 10)).astype(np.float32) * 0.3
    b2 = rng.standard_normal(10).astype(np.float32)
    gemm_b = w1.T if trans_b else w1
    nodes = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], transB=int(trans_b), alpha=0.5, beta=2.0),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "W2"], ["m"]),
        helper.make_node("Add", ["m", "b2"], ["y"]),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in ((gemm_b, "W1"), (b1, "b1"), (w2, "W2"), (b2, "b2"))]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return model


@pytest.mark.parametrize("trans_b", [False, True])
def test_onnx_gemm_and_matmul(tmp_path, digits, trans_b):
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    x, _ = digits
    path = tmp_path / "mlp.onnx"
    model = _onnx_mlp(path, np.random.default_rng(0), trans_b)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    params, act = from_onnx(path)
    assert act is Activation.RELU and params[0][0].shape == (24, 64)
    np.testing.assert_allclose(forward(params, x, act), expected, rtol=1e-4, atol=1e-4)
    assert onnx  # the optional extra is present


def test_onnx_bad_files(tmp_path):
    pytest.importorskip("onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01not an onnx model" * 10)
    with pytest.raises(NeurosimError, match="junk.onnx"):
        from_onnx(junk)
    with pytest.raises(NeurosimError, match="no such ONNX"):
        from_onnx(tmp_path / "absent.onnx")
