"""CNN search space: every axis the experiment notes vary, as flat Ray Tune domains.

The space is flat (no nested choices of dicts) because HyperOpt hangs on
``points_to_evaluate`` with nested choices; per-block and per-layer values are
separate keys, and keys a config does not use (``filters_3`` in a 2-block net)
are simply ignored by the builder.

Downsampling: the notes' "MaxPool2D(2)" and "MaxPool2D(2, 2)" ("MaxPooling with
2 strides") are the same Keras layer, since ``strides`` defaults to the pool
size, so both map to ``"maxpool"``. "X-C5S2ReLU" is a 5x5 convolution with
stride 2 (``"conv5s2"``).
"""

from ray import tune

from search_spaces import NOT_IN_THE_NOTES

FAMILY = "cnn"

SPACE = {
    "conv_blocks": tune.choice([2, 3]),
    # Block 1 runs at full 28x28 resolution, where width costs most: 16-64 there (the notes
    # used 32) keeps a random config's epoch near the presets' instead of 3x theirs.
    "filters_1": tune.choice([16, 32, 64]),
    "filters_2": tune.choice([32, 64, 128]),
    "filters_3": tune.choice([32, 64, 128]),
    "convs_per_block": tune.choice([1, 2]),
    "downsample": tune.choice(["maxpool", "conv5s2", "none"]),
    "downsample_last_block": tune.choice([True, False]),
    "head": tune.choice(["flatten", "global_avg", "global_max"]),
    "conv_batchnorm": tune.choice(["none", "after_block", "after_conv"]),
    "dense_batchnorm": tune.choice([True, False]),
    "conv_dropout": tune.quniform(0.0, 0.4, 0.05),
    "dense_layers": tune.choice([1, 2]),
    "dense_units_1": tune.choice([32, 64, 128]),
    "dense_units_2": tune.choice([32, 64, 128]),
    "dense_dropout": tune.quniform(0.0, 0.4, 0.05),
    "activation": tune.choice(["relu", "elu", "leaky_relu"]),
    # Separate for convolutions and the dense head: the notes put he_normal on the head only and
    # leave the convolutions at Keras' default, except in their "He uniform" / "He normal" runs.
    "conv_initializer": tune.choice(["glorot_uniform", "he_normal", "he_uniform"]),
    "dense_initializer": tune.choice(["glorot_uniform", "he_normal", "he_uniform"]),
    "optimizer": tune.choice(["adam", "nadam", "adamw"]),
    "learning_rate": tune.loguniform(5e-5, 2e-3),
    "lr_schedule": tune.choice(["none", "plateau", "exponential", "cosine", "one_cycle"]),
    "batch_size": tune.choice([32, 64, 128]),
    # Three axes the notes never tried, from the fast small-data recipes (docs/search.md): label
    # smoothing, AdamW's decoupled weight decay (used by "adamw" only; Keras multiplies it by the
    # rate), and above the cosine and one-cycle schedules. The presets leave them off.
    "label_smoothing": tune.quniform(0.0, 0.2, 0.05),
    "weight_decay": tune.loguniform(1e-3, 0.3),
    "augment": tune.choice([False, True]),
}

# The notes' "2x Doubled Conv layers" family: two blocks of two 3x3 convs,
# batch norm after each block, max-pool, a 64-unit head, Adam 1e-3, plateau.
_DOUBLED_CONV = {
    "conv_blocks": 2, "filters_1": 32, "filters_2": 64, "filters_3": 128,
    "convs_per_block": 2, "downsample": "maxpool", "downsample_last_block": True,
    "head": "flatten", "conv_batchnorm": "after_block", "dense_batchnorm": True,
    "conv_dropout": 0.0, "dense_layers": 1, "dense_units_1": 64, "dense_units_2": 32,
    "dense_dropout": 0.2, "activation": "relu",
    "conv_initializer": "glorot_uniform", "dense_initializer": "he_normal",
    "optimizer": "adam", "learning_rate": 1e-3, "lr_schedule": "plateau",
    "batch_size": 128, "augment": False, **NOT_IN_THE_NOTES,
}

# "BatchNorm after all Conv layers": three doubled blocks, BN after every conv,
# dropout 0.25 after blocks, Dense(128) head with dropout 0.3, augmentation.
_BN_ALL_CONV = {
    **_DOUBLED_CONV, "conv_blocks": 3, "conv_batchnorm": "after_conv",
    "conv_dropout": 0.25, "dense_units_1": 128, "dense_dropout": 0.3, "augment": True,
}

PRESETS = {
    "baseline-cnn": {
        **_DOUBLED_CONV, "convs_per_block": 1, "conv_batchnorm": "none",
        "dense_layers": 2, "dense_units_1": 128, "dense_units_2": 64,
        "dense_initializer": "glorot_uniform", "optimizer": "nadam", "learning_rate": 5e-4,
        "lr_schedule": "none", "batch_size": 32,
    },
    "2x-doubled-conv-layers": dict(_DOUBLED_CONV),
    "he-uniform": {**_DOUBLED_CONV, "conv_initializer": "he_uniform", "dense_initializer": "he_uniform"},
    "data-augmentation": {
        **_DOUBLED_CONV, "conv_blocks": 3, "downsample_last_block": False,
        "conv_dropout": 0.35, "dense_layers": 2, "dense_units_1": 64, "dense_units_2": 32,
        "augment": True,
    },
    "global-avg-pool": {
        **_DOUBLED_CONV, "conv_blocks": 3, "downsample_last_block": False,
        "head": "global_avg", "conv_dropout": 0.2, "augment": True,
    },
    "batchnorm-after-all-conv-layers": dict(_BN_ALL_CONV),
    "exponential-lr": {**_BN_ALL_CONV, "lr_schedule": "exponential"},
    "replaced-maxpools-with-c5s2": {
        **_BN_ALL_CONV, "lr_schedule": "exponential", "downsample": "conv5s2",
    },
    # The member of the notes' 10-CNN ensemble (Kaggle 0.99657).
    "notes-final": {
        **_BN_ALL_CONV, "lr_schedule": "exponential", "downsample": "conv5s2",
        "conv_dropout": 0.4, "dense_dropout": 0.4,
    },
}


def block_downsample(config, block):
    """How conv block ``block`` (1-based) ends; a last block may be told not to downsample."""
    if block == config["conv_blocks"] and not config["downsample_last_block"]:
        return "none"
    return config["downsample"]


def relative_cost(config):
    """Multiply-adds of one image through the conv layers: a TensorFlow-free proxy for epoch time.

    Measured on one thread, 3,500 digits: baseline-cnn ~4 M here and 4 s an epoch,
    notes-final ~46 M and 31 s; the dense head and augmentation are small beside the convs.
    """
    size, channels, total = 28, 1, 0
    for block in range(1, config["conv_blocks"] + 1):
        filters = config[f"filters_{block}"]
        for _ in range(config["convs_per_block"]):
            total += size * size * 9 * channels * filters
            channels = filters
        downsample = block_downsample(config, block)
        if downsample != "none":
            size = (size + 1) // 2
            if downsample == "conv5s2":
                total += size * size * 25 * channels * filters
    return total
