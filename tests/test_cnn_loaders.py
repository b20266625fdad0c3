"""Convolutional networks from torch and ONNX reproduce the framework's own outputs on MNIST test images."""

import numpy as np
import pytest

from neurosim.convert.loaders import from_onnx, from_torch, onnx_layers
from neurosim.data import load_mnist
from neurosim.errors import NeurosimError
from neurosim.networks.layers import Activation, Conv2d, Dense, Pool2d, PoolMode, forward_layers


@pytest.fixture(scope="module")
def images():
    """200 real MNIST test digits as flat [0, 1] rows."""
    x, _ = load_mnist("test")
    return (x[:200].reshape(200, -1) / np.float32(255)).astype(np.float32)


def torch_lenet(torch):
    nn = torch.nn
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, stride=1), nn.MaxPool2d(2, stride=2), nn.ReLU(),  # ReLU after pooling joins the pool
        nn.Sequential(nn.Conv2d(16, 8, 3, padding="same"), nn.AvgPool2d(2, stride=1)),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(8 * 4 * 4, 32), nn.ReLU(), nn.Linear(32, 10),
    ).eval()


def test_torch_sequential_reproduces_torch(images):
    torch = pytest.importorskip("torch")
    net = torch_lenet(torch)
    layers = from_torch(net, in_shape=(1, 28, 28))
    kinds = [(type(layer).__name__, layer.activation.value) for layer in layers]
    assert kinds == [("Conv2d", "relu"), ("Pool2d", "linear"), ("Conv2d", "linear"), ("Pool2d", "relu"),
                     ("Conv2d", "linear"), ("Pool2d", "linear"), ("Dense", "relu"), ("Dense", "linear")]
    assert layers[5].mode is PoolMode.AVG and layers[4].padding == 1
    with torch.no_grad():
        expected = net(torch.from_numpy(images).reshape(-1, 1, 28, 28)).numpy()
    np.testing.assert_allclose(forward_layers(layers, images), expected, rtol=1e-4, atol=1e-4)


def test_torch_state_dict_with_its_sequential(images):
    torch = pytest.importorskip("torch")
    trained, fresh = torch_lenet(torch), torch_lenet(torch)
    with torch.no_grad():
        for p in trained.parameters():
            p.mul_(1.5)
    layers = from_torch(fresh, (1, 28, 28), state_dict=trained.state_dict())
    with torch.no_grad():
        expected = trained(torch.from_numpy(images).reshape(-1, 1, 28, 28)).numpy()
    np.testing.assert_allclose(forward_layers(layers, images), expected, rtol=1e-4, atol=1e-4)
    partial = {k: v for k, v in trained.state_dict().items() if k != "0.bias"}
    with pytest.raises(NeurosimError, match="'0.bias'"):
        from_torch(fresh, (1, 28, 28), state_dict=partial)


@pytest.mark.parametrize("bad, message", [
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh()), "layer Tanh \\(module '1'\\) is not supported"),
    (lambda nn: nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), "groups = 1"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, (3, 5))), "kernel_size"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, padding=1)), "padding = 0"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(26, 3)), "without a Flatten"),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), "BatchNorm2d"),
    (lambda nn: nn.Sequential(nn.Linear(784, 2), nn.Conv2d(1, 2, 3)), "needs image inputs"),
])
def test_torch_unsupported_layers_are_named(bad, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(NeurosimError, match=message):
        from_torch(bad(torch.nn), in_shape=(1, 28, 28) if "image" not in message else None)


def test_torch_conv_without_in_shape_is_refused():
    torch = pytest.importorskip("torch")
    with pytest.raises(NeurosimError, match="in_shape"):
        from_torch(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3)))


def _onnx_cnn(path, rng):
    """A small CNN written with onnx.helper: Conv (strided, padded), Relu, MaxPool, Conv, AveragePool, Flatten, Gemm."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    arrays = {
        "W1": rng.normal(0, 0.3, (4, 1, 5, 5)).astype(np.float32), "b1": rng.normal(0, 0.1, 4).astype(np.float32),
        "W2": rng.normal(0, 0.2, (6, 4, 3, 3)).astype(np.float32),
        "G": rng.normal(0, 0.2, (10, 6 * 5 * 5)).astype(np.float32), "g": rng.normal(0, 0.1, 10).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "W1", "b1"], ["c1"], kernel_shape=[5, 5], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("Conv", ["p1", "W2"], ["c2"], kernel_shape=[3, 3]),
        helper.make_node("AveragePool", ["c2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Relu", ["p2"], ["r2"]),
        helper.make_node("Flatten", ["r2"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "G", "g"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, 28, 28])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 10])],
        [numpy_helper.from_array(a, name) for name, a in arrays.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return model


def test_onnx_cnn_reproduces_the_onnx_reference_runtime(tmp_path, images):
    pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator

    model = _onnx_cnn(tmp_path / "cnn.onnx", np.random.default_rng(0))
    layers = onnx_layers(tmp_path / "cnn.onnx")
    assert [type(layer) for layer in layers] == [Conv2d, Pool2d, Conv2d, Pool2d, Dense]
    assert (layers[0].stride, layers[0].padding, layers[0].activation) == (2, 1, Activation.RELU)
    expected = ReferenceEvaluator(model).run(None, {"x": images[:20].reshape(-1, 1, 28, 28)})[0]
    np.testing.assert_allclose(forward_layers(layers, images[:20]), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(NeurosimError, match="onnx_layers converts convolutional"):
        from_onnx(tmp_path / "cnn.onnx")


def test_onnx_unsupported_operator_is_named(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["c"], kernel_shape=[3, 3]), helper.make_node("Tanh", ["c"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 6])], [w],
    )
    onnx.save(helper.make_model(graph), str(tmp_path / "tanh.onnx"))
    with pytest.raises(NeurosimError, match="ONNX operator 'Tanh' is not supported; supported: Conv"):
        onnx_layers(tmp_path / "tanh.onnx")


def test_torch_export_to_onnx_round_trip(tmp_path, images):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    net = torch_lenet(torch)
    path = tmp_path / "lenet.onnx"
    x = torch.from_numpy(images).reshape(-1, 1, 28, 28)
    try:
        torch.onnx.export(net, x[:1], str(path), dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "n"}})
    except Exception as exc:  # an exporter that needs packages this environment lacks
        pytest.skip(f"torch.onnx.export unavailable here: {exc}")
    with torch.no_grad():
        expected = net(x).numpy()
    np.testing.assert_allclose(forward_layers(onnx_layers(path), images), expected, rtol=1e-4, atol=1e-4)
