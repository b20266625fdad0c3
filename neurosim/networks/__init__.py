"""Networks: software MLP training and model files (more network kinds join here)."""

from neurosim.networks.mlp import (
    Activation,
    Optimizer,
    Output,
    accuracy,
    forward,
    init_mlp,
    predict,
    train_mlp,
)
from neurosim.networks.modelio import MLPModel, ModelError, load_model, save_model

__all__ = [
    "Activation",
    "MLPModel",
    "ModelError",
    "Optimizer",
    "Output",
    "accuracy",
    "forward",
    "init_mlp",
    "load_model",
    "predict",
    "save_model",
    "train_mlp",
]
