"""The NumPy MLP: exact gradients, training, reproducibility, model files, shipped models."""

import dataclasses
import json
import math

import numpy as np
import pytest

from neurosim.data import find_mnist, load_digits_split, load_mnist
from neurosim.errors import NeurosimError
from neurosim.networks.mlp import (
    TRAINABLE,
    Activation,
    Output,
    accuracy,
    check_params,
    forward,
    init_mlp,
    loss,
    loss_and_gradients,
    perturb_weights,
    predict,
    train_mlp,
)
from neurosim.networks.modelio import (
    MLPModel,
    ModelError,
    load_model,
    model_paths,
    save_model,
    weights_sha256,
)
from neurosim.networks.reference_models import (
    REFERENCE_SPECS,
    retrain_reference_models,
    train_reference_model,
)
from neurosim.resources import shipped_dir

SHIPPED_MINIMUM = {"mlp784": 0.975, "mlp400_binary": 0.96, "mlp784_noisy": 0.97}


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(0.25, rng=0)


def as_float64(params):
    return [(w.astype(np.float64), b.astype(np.float64)) for w, b in params]


# --- numerics ----------------------------------------------------------------------------


def test_forward_matches_the_layer_formula():
    rng = np.random.default_rng(0)
    params = as_float64(init_mlp((4, 3, 2), rng))
    params[0] = (params[0][0], rng.normal(size=3))
    x = rng.normal(size=(5, 4))
    (w0, b0), (w1, b1) = params
    expected_relu = np.maximum(x @ w0.T + b0, 0) @ w1.T + b1
    expected_sigmoid = 1 / (1 + np.exp(-(x @ w0.T + b0))) @ w1.T + b1
    np.testing.assert_allclose(forward(params, x, "relu"), expected_relu, rtol=1e-12)
    np.testing.assert_allclose(forward(params, x, Activation.SIGMOID), expected_sigmoid, rtol=1e-12)
    np.testing.assert_array_equal(predict(params, x, "relu"), np.argmax(expected_relu, axis=1))


def test_losses_match_their_definitions():
    rng = np.random.default_rng(1)
    params = as_float64(init_mlp((4, 3), rng))
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    z = forward(params, x, "relu")
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    onehot = np.eye(3)[y]
    ce = loss(params, x, y, activation="relu", output="softmax_cross_entropy")
    se = loss(params, x, y, activation="relu", output=Output.SIGMOID_SQUARED_ERROR)
    assert math.isclose(ce, -np.mean(np.log(p[np.arange(6), y])), rel_tol=1e-12)
    assert math.isclose(
        se, np.mean(0.5 * np.sum((1 / (1 + np.exp(-z)) - onehot) ** 2, axis=1)), rel_tol=1e-12
    )


@pytest.mark.parametrize("activation", TRAINABLE)
@pytest.mark.parametrize("output", list(Output))
def test_gradients_match_finite_differences(activation, output):
    rng = np.random.default_rng(2)
    params = as_float64(init_mlp((6, 5, 4, 3), rng, activation=activation))
    params = [(w, rng.normal(scale=0.1, size=b.shape)) for w, b in params]
    x, y = rng.normal(size=(7, 6)), rng.integers(0, 3, size=7)
    value, grads = loss_and_gradients(params, x, y, activation=activation, output=output)
    step = 1e-6
    # central differences: round-off error ~ eps * loss / step, truncation ~ step**2
    atol = 100 * np.finfo(np.float64).eps * max(value, 1.0) / step
    for layer, (w, b) in enumerate(params):
        for which, array in enumerate((w, b)):
            numeric = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                saved = array[index]
                array[index] = saved + step
                up = loss(params, x, y, activation=activation, output=output)
                array[index] = saved - step
                down = loss(params, x, y, activation=activation, output=output)
                array[index] = saved
                numeric[index] = (up - down) / (2 * step)
            analytic = grads[layer][which]
            assert analytic.shape == array.shape and analytic.dtype == np.float64
            np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=atol)


def test_gradients_keep_float32():
    params = init_mlp((4, 3, 2), 0)
    value, grads = loss_and_gradients(params, np.ones((2, 4)), [0, 1], activation="relu")
    assert isinstance(value, float)
    assert all(g.dtype == np.float32 for pair in grads for g in pair)


def test_init_scales():
    relu = init_mlp((1000, 500), 0, activation="relu")[0][0]
    sigmoid = init_mlp((1000, 500), 0, activation="sigmoid")[0][0]
    n = relu.size
    assert abs(relu.std() / math.sqrt(2 / 1000) - 1) < 5 / math.sqrt(2 * n)
    limit = math.sqrt(6 / 1500)
    assert np.abs(sigmoid).max() <= limit and np.abs(sigmoid).max() > 0.99 * limit
    assert relu.dtype == np.float32 and not np.any(init_mlp((1000, 500), 0)[0][1])


def test_weight_noise_is_additive_gaussian_scaled_by_the_largest_weight():
    rng = np.random.default_rng(3)
    params = [(rng.uniform(-2, 2, size=(200, 300)).astype(np.float32), np.ones(200, np.float32))]
    noisy = perturb_weights(params, 0.05, rng=4)
    (w, b), (w_noisy, b_noisy) = params[0], noisy[0]
    sigma = 0.05 * np.abs(w).max()
    diff = (w_noisy - w).astype(np.float64).ravel()
    n = diff.size
    assert abs(diff.mean()) < 5 * sigma / math.sqrt(n)
    assert abs(diff.std() / sigma - 1) < 5 / math.sqrt(2 * n)
    assert abs(np.corrcoef(diff, w.ravel())[0, 1]) < 5 / math.sqrt(n), "noise must not depend on the weight"
    assert b_noisy is b and w_noisy.dtype == np.float32
    np.testing.assert_array_equal(perturb_weights(params, 0.0, rng=5)[0][0], w)
    with pytest.raises(NeurosimError, match="weight_noise"):
        perturb_weights(params, -0.1)


# --- training -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        dict(activation="relu", optimizer="adam", lr=3e-3),
        dict(activation="relu", optimizer="sgd", lr=0.1, momentum=0.9),
        dict(activation="sigmoid", output="sigmoid_squared_error", optimizer="sgd", lr=0.5, momentum=0.5),
    ],
)
def test_training_on_digits_reaches_90_percent(digits, settings):
    (x_train, y_train), (x_test, y_test) = digits
    params = train_mlp(x_train, y_train, (64, 32, 10), epochs=30, batch_size=16, rng=0, **settings)
    assert all(a.dtype == np.float32 for layer in params for a in layer)
    assert accuracy(params, x_test, y_test, settings["activation"]) >= 0.9


def test_training_lowers_the_loss(digits):
    (x_train, y_train), _ = digits
    before = loss(init_mlp((64, 32, 10), 0), x_train, y_train, activation="relu")
    trained = train_mlp(x_train, y_train, (64, 32, 10), epochs=3, batch_size=16, lr=3e-3, rng=0)
    assert loss(trained, x_train, y_train, activation="relu") < 0.25 * before


def test_training_is_reproducible_from_the_seed(digits):
    (x_train, y_train), _ = digits
    kwargs = dict(epochs=2, batch_size=32, weight_noise=0.05)
    first = train_mlp(x_train, y_train, (64, 16, 10), rng=7, **kwargs)
    second = train_mlp(x_train, y_train, (64, 16, 10), rng=np.random.default_rng(7), **kwargs)
    other = train_mlp(x_train, y_train, (64, 16, 10), rng=8, **kwargs)
    for (w1, b1), (w2, b2) in zip(first, second):
        np.testing.assert_array_equal(w1, w2)
        np.testing.assert_array_equal(b1, b2)
    assert not np.array_equal(first[0][0], other[0][0])


def test_noise_aware_training_learns_and_differs_from_clean_training(digits):
    (x_train, y_train), (x_test, y_test) = digits
    clean = train_mlp(x_train, y_train, (64, 32, 10), epochs=20, batch_size=16, lr=3e-3, rng=0)
    noisy = train_mlp(
        x_train, y_train, (64, 32, 10), epochs=20, batch_size=16, lr=3e-3, rng=0, weight_noise=0.1
    )
    assert not np.array_equal(clean[0][0], noisy[0][0])
    assert accuracy(noisy, x_test, y_test, "relu") >= 0.85


def test_weight_clip_bounds_weights_and_biases(digits):
    (x_train, y_train), _ = digits
    params = train_mlp(
        x_train, y_train, (64, 16, 10), epochs=3, optimizer="sgd", lr=2.0, weight_clip=0.25, rng=0
    )
    assert max(float(np.abs(a).max()) for layer in params for a in layer) <= 0.25


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(sizes=(64,)), "sizes"),
        (dict(sizes=(64, 0, 10)), "sizes"),
        (dict(activation="tanh"), "activation"),
        (dict(output="hinge"), "output"),
        (dict(optimizer="rmsprop"), "optimizer"),
        (dict(lr=0.0), "lr"),
        (dict(lr=float("nan")), "lr"),
        (dict(epochs=0), "epochs"),
        (dict(batch_size=2.5), "batch_size"),
        (dict(momentum=1.0), "momentum"),
        (dict(lr_decay=0.0), "lr_decay"),
        (dict(weight_clip=0.0), "weight_clip"),
        (dict(weight_noise=-1.0), "weight_noise"),
        (dict(x=np.ones((4, 5))), r"shape \(n, 64\)"),
        (dict(x=np.full((4, 64), np.nan)), "NaN"),
        (dict(y=np.array([0, 1, 2, 10])), r"0\.\.9"),
        (dict(y=np.array([0.0, 1.0, 2.0, 3.0])), "integers"),
        (dict(y=np.array([0, 1])), r"shape \(4,\)"),
        (dict(rng="seed"), "rng"),
    ],
)
def test_bad_training_input_is_rejected(change, message):
    kwargs = dict(x=np.ones((4, 64)), y=np.array([0, 1, 2, 3]), sizes=(64, 10), rng=0)
    kwargs.update(change)
    x, y, sizes = kwargs.pop("x"), kwargs.pop("y"), kwargs.pop("sizes")
    with pytest.raises(NeurosimError, match=message):
        train_mlp(x, y, sizes, **kwargs)


def test_check_params_rejects_broken_layers():
    good = init_mlp((4, 3, 2), 0)
    assert check_params(good) == (4, 3, 2)
    broken = {
        "chain": [good[0], (np.ones((2, 4), np.float32), good[1][1])],
        "bias": [(good[0][0], np.ones(4, np.float32)), good[1]],
        "nan": [(np.full((3, 4), np.nan, np.float32), good[0][1]), good[1]],
        "int": [(np.ones((3, 4), int), good[0][1]), good[1]],
        "pair": [good[0][0]],
        "empty": [],
    }
    for params in broken.values():
        with pytest.raises(NeurosimError):
            check_params(params)
        with pytest.raises(NeurosimError):
            forward(params, np.ones((1, 4)), "relu")


# --- model files --------------------------------------------------------------------------


@pytest.fixture
def model():
    return MLPModel(
        init_mlp((8, 5, 3), 0, activation="sigmoid"),
        "sigmoid",
        "sigmoid_squared_error",
        "crop20_binarize",
        {"accuracy": {"test": 0.5}, "note": "unit test"},
    )


def test_model_round_trip(tmp_path, model):
    json_path = save_model(model, tmp_path / "sub" / "tiny")
    assert json_path == tmp_path / "sub" / "tiny.json"
    assert sorted(p.name for p in json_path.parent.iterdir()) == ["tiny.json", "tiny.npz"]
    for spelling in ("tiny", "tiny.npz", "tiny.json"):
        loaded = load_model(tmp_path / "sub" / spelling)
        assert loaded.sizes == (8, 5, 3)
        assert (loaded.activation, loaded.output, loaded.preprocessing) == (
            model.activation,
            model.output,
            model.preprocessing,
        )
        assert loaded.info == model.info
        for (w1, b1), (w2, b2) in zip(loaded.params, model.params):
            np.testing.assert_array_equal(w1, w2)
            np.testing.assert_array_equal(b1, b2)
    sidecar = json.loads(json_path.read_text())
    assert sidecar["name"] == "tiny" and sidecar["format"] == "neurosim-model"
    assert sidecar["layers"] == [
        {"kind": "dense", "activation": "sigmoid", "inputs": 8, "outputs": 5},
        {"kind": "dense", "activation": "linear", "inputs": 5, "outputs": 3},
    ]
    assert sidecar["weights_sha256"] == weights_sha256(model.params)
    with np.load(tmp_path / "sub" / "tiny.npz", allow_pickle=False) as data:
        assert sorted(data.files) == ["W0", "W1", "b0", "b1"] and data["W0"].shape == (5, 8)


def _rewrite_npz(npz_path, **arrays):
    with np.load(npz_path) as data:
        content = dict(data)
    content.update(arrays)
    np.savez(npz_path, **{k: v for k, v in content.items() if v is not None})


def _edit_sidecar(json_path, **changes):
    sidecar = json.loads(json_path.read_text())
    sidecar.update(changes)
    json_path.write_text(json.dumps(sidecar))


def _edit_layer(json_path, index, **changes):
    sidecar = json.loads(json_path.read_text())
    sidecar["layers"][index].update(changes)
    json_path.write_text(json.dumps(sidecar))


def _drop_key(json_path, key):
    sidecar = json.loads(json_path.read_text())
    del sidecar[key]
    json_path.write_text(json.dumps(sidecar))


BAD_MODELS = {
    "missing npz": (lambda npz, js: npz.unlink(), "do not exist"),
    "missing json": (lambda npz, js: js.unlink(), "does not exist"),
    "not json": (lambda npz, js: js.write_text("{oops"), "not readable JSON"),
    "not a model sidecar": (lambda npz, js: js.write_text("[1, 2]"), "format"),
    "newer format": (lambda npz, js: _edit_sidecar(js, format_version=2), "format_version"),
    "missing key": (lambda npz, js: _drop_key(js, "layers"), "lacks"),
    "unknown activation": (lambda npz, js: _edit_layer(js, 0, activation="tanh"), "activation 'tanh'"),
    "unknown layer kind": (lambda npz, js: _edit_layer(js, 1, kind="lstm"), "kind 'lstm'; allowed: \\['conv2d', 'dense', 'pool2d'\\]"),
    "layer keys": (lambda npz, js: _edit_layer(js, 1, stride=2), "exactly the keys"),
    "step units are not an MLP": (lambda npz, js: _edit_layer(js, 0, activation="step"), "activation = 'step'"),
    "unknown preprocessing": (lambda npz, js: _edit_sidecar(js, preprocessing="blur"), "preprocessing"),
    "sizes differ": (lambda npz, js: _edit_layer(js, 0, outputs=6), "have layers"),
    "layers not a list": (lambda npz, js: _edit_sidecar(js, layers=3), "layers must be a non-empty list"),
    "garbage npz": (lambda npz, js: npz.write_bytes(b"not a zip file"), "npz"),
    "nan weight": (lambda npz, js: _rewrite_npz(npz, W1=np.full((3, 5), np.nan, np.float32)), "NaN"),
    "inf bias": (lambda npz, js: _rewrite_npz(npz, b0=np.full(5, np.inf, np.float32)), "NaN or infinite"),
    "shapes do not chain": (lambda npz, js: _rewrite_npz(npz, W1=np.ones((3, 4), np.float32)), "inputs"),
    "bias shape": (lambda npz, js: _rewrite_npz(npz, b1=np.ones(4, np.float32)), "b"),
    "missing array": (lambda npz, js: _rewrite_npz(npz, b1=None), "exactly"),
    "extra array": (lambda npz, js: _rewrite_npz(npz, W2=np.ones((2, 3), np.float32)), "exactly"),
    "integer weights": (lambda npz, js: _rewrite_npz(npz, W0=np.ones((5, 8), np.int64)), "floats"),
    "pickled object array": (
        lambda npz, js: _rewrite_npz(npz, W0=np.array([None] * 40, dtype=object).reshape(5, 8)),
        "not numeric",
    ),
    "weights changed": (lambda npz, js: _rewrite_npz(npz, W0=np.zeros((5, 8), np.float32)), "SHA-256"),
}


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_bad_model_files_raise_clear_errors(tmp_path, model, case):
    save_model(model, tmp_path / "m")
    npz_path, json_path = model_paths(tmp_path / "m")
    damage, message = BAD_MODELS[case]
    damage(npz_path, json_path)
    with pytest.raises(ModelError, match=message) as info:
        load_model(tmp_path / "m")
    assert "m.npz" in str(info.value) or "m.json" in str(info.value)


def test_model_rejects_reserved_info_keys_and_unserialisable_info(tmp_path, model):
    with pytest.raises(NeurosimError, match="reserved"):
        MLPModel(model.params, info={"layers": [1]})
    with pytest.raises(NeurosimError, match="JSON"):
        save_model(dataclasses.replace(model, info={"bad": float("nan")}), tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


# --- shipped reference models ----------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist_test():
    return load_mnist("test", download=False)


@pytest.mark.parametrize("spec", [s for s in REFERENCE_SPECS if s.name in SHIPPED_MINIMUM], ids=lambda spec: spec.name)
def test_shipped_models_reach_their_stated_accuracy(spec, mnist_test):
    model = load_model(shipped_dir("models") / spec.name)
    images, labels = mnist_test
    assert model.sizes == spec.sizes
    assert (model.activation, model.output, model.preprocessing) == (
        spec.activation,
        spec.output,
        spec.preprocessing,
    )
    measured = model.accuracy(model.prepare(images), labels)
    assert measured == pytest.approx(model.info["accuracy"]["test"], abs=1e-3)
    assert measured >= SHIPPED_MINIMUM[spec.name]
    assert model.info["retrain"]["command"] == "neurosim train-reference --out models --seed 0"
    assert model.info["training"] == spec.training and model.info["seed"] == 0
    if spec.training.get("weight_clip"):
        assert (
            max(float(np.abs(a).max()) for layer in model.params for a in layer)
            <= spec.training["weight_clip"]
        )


def test_train_reference_model_writes_a_loadable_model(tmp_path, mnist_test):
    images, labels = mnist_test
    spec = dataclasses.replace(REFERENCE_SPECS[0], training={**REFERENCE_SPECS[0].training, "epochs": 2})
    model = train_reference_model(
        spec,
        (images[:2000], labels[:2000]),
        (images[2000:3000], labels[2000:3000]),
        0,
        provenance={"seed": 0},
    )
    assert model.info["accuracy"]["test"] > 0.8
    assert model.info["dataset"]["train_images"] == 2000 and model.info["seed"] == 0
    loaded = load_model(save_model(model, tmp_path / spec.name))
    assert loaded.info == json.loads(json.dumps(model.info))


@pytest.mark.slow
@pytest.mark.skipif(find_mnist("train") is None, reason="MNIST training split not available locally")
def test_retraining_reproduces_the_shipped_models(tmp_path):
    for json_path in retrain_reference_models(tmp_path, seed=0):
        fresh, shipped = load_model(json_path), load_model(shipped_dir("models") / json_path.stem)
        assert fresh.info["accuracy"]["test"] == pytest.approx(shipped.info["accuracy"]["test"], abs=2e-3)
