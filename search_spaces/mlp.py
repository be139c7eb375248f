"""MLP search space: every axis the experiment notes vary, as flat Ray Tune domains.

Flat, like the CNN space, because HyperOpt hangs on ``points_to_evaluate``
with nested choices: each layer's width is its own key, and ``dense_units_2``
is ignored by a one-layer net.

Batch norm placement, as in the notes: ``"before"`` is Dense -> BatchNorm ->
activation -> Dropout (their later runs); ``"after"`` is Dense(activation) ->
Dropout -> BatchNorm (their first run). The MLP has no ``augment`` key: the
input stage treats a missing key as no augmentation.

The notes do not record the MLPs' optimizer, learning rate, schedule or batch
size, so the presets use Keras' defaults (Adam at 1e-3, batch 32, no schedule).
"""

from ray import tune

from search_spaces import NOT_IN_THE_NOTES

FAMILY = "mlp"

WIDTHS = [128, 150, 200, 256, 384, 512]

SPACE = {
    "dense_layers": tune.choice([1, 2]),
    "dense_units_1": tune.choice(WIDTHS),
    "dense_units_2": tune.choice(WIDTHS),
    "batchnorm": tune.choice(["before", "after", "none"]),
    "activation": tune.choice(["relu", "leaky_relu", "elu"]),
    "dropout": tune.quniform(0.0, 0.4, 0.05),
    "optimizer": tune.choice(["adam", "nadam", "adamw"]),
    "learning_rate": tune.loguniform(1e-4, 1e-2),
    "lr_schedule": tune.choice(["none", "plateau", "exponential", "cosine", "one_cycle"]),
    "batch_size": tune.choice([32, 64, 128]),
    # Three axes the notes never tried, from the fast small-data recipes (docs/search.md): label
    # smoothing, AdamW's decoupled weight decay (used by "adamw" only; Keras multiplies it by the
    # rate), and above the cosine and one-cycle schedules. The presets leave them off.
    "label_smoothing": tune.quniform(0.0, 0.2, 0.05),
    "weight_decay": tune.loguniform(1e-3, 0.3),
}

# Dense(200) + BatchNorm + ReLU + Dropout(.2), twice over: the notes' common shape.
_BN_RELU_200 = {
    "dense_layers": 2, "dense_units_1": 200, "dense_units_2": 150,
    "batchnorm": "before", "activation": "relu", "dropout": 0.2,
    "optimizer": "adam", "learning_rate": 1e-3, "lr_schedule": "none", "batch_size": 32, **NOT_IN_THE_NOTES,
}

PRESETS = {
    # Dense(200, relu) + Dropout(.2) + BatchNorm + Dense(150, relu) + Dropout(.2) + BatchNorm
    "relu-dropout-bn-200-150": {**_BN_RELU_200, "batchnorm": "after"},
    # Dense(200) + BatchNorm + LeakyReLU + Dropout(.2) + Dense(150) + ...
    "bn-leaky-relu-200-150": {**_BN_RELU_200, "activation": "leaky_relu"},
    # Dense(200) + BatchNorm + ReLU + Dropout(.2) + Dense(150) + ...
    "bn-relu-200-150": dict(_BN_RELU_200),
    # Dense(200) + BatchNorm + ReLU + Dropout(.2) + Dense(200) + ...: the notes' best MLP (0.9740)
    "bn-relu-200-200": {**_BN_RELU_200, "dense_units_2": 200},
    # Dense(512) + BatchNorm + ReLU + Dropout(.2); dense_units_2 is unused
    "bn-relu-512": {**_BN_RELU_200, "dense_layers": 1, "dense_units_1": 512, "dense_units_2": 512},
}
