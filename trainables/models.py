"""Pure model builders, ``config -> compiled keras.Model``.

The sweep, the ensemble trainer and any replay of a trial all build through
here, so a config means the same network everywhere. Models take raw 0..255
pixels shaped (28, 28, 1): rescaling and augmentation are layers of the model,
so they travel with every saved checkpoint.
"""

import keras
import numpy as np
from keras import layers

from search_spaces.cnn import block_downsample

NUM_CLASSES = 10
INPUT_SHAPE = (28, 28, 1)

# The notes' ImageDataGenerator(rotation_range=10, zoom_range=0.1,
# width_shift_range=0.1, height_shift_range=0.1), as Keras 3 layers that are
# active only in training. Empty pixels are filled with black, as digits are.
ROTATION_DEGREES = 10
ZOOM = 0.1
SHIFT = 0.1

# Keras' default momentum (0.99) needs hundreds of steps before the moving
# statistics that validation uses settle; 5,000 digits give ~30 steps an epoch,
# so validation accuracy of batch-norm nets would be noise for several epochs
# and ASHA would stop exactly the nets the notes found best.
BN_MOMENTUM = 0.9
# Images a BatchNorm refresh (refresh_batchnorm) computes its statistics from.
PRECISE_BN_IMAGES = 256

OPTIMIZERS = {"adam": keras.optimizers.Adam, "nadam": keras.optimizers.Nadam}
EMA_MOMENTUM = 0.99  # about the last 100 steps: two epochs of 3,500 digits at batch 128


def _input_stage(config):
    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Rescaling(1.0 / 255)(inputs)
    if config.get("augment"):
        fill = {"fill_mode": "constant", "fill_value": 0.0}
        x = layers.RandomRotation(ROTATION_DEGREES / 360, **fill)(x)
        x = layers.RandomZoom(ZOOM, **fill)(x)
        x = layers.RandomTranslation(SHIFT, SHIFT, **fill)(x)
    return inputs, x


def initializer(config, part):
    """The kernel initializer of ``part`` ("conv" or "dense"); configs written before the two were
    separate have one ``initializer`` for both, and still build the network they described."""
    return config.get(f"{part}_initializer") or config["initializer"]


def _dense_head(x, config):
    """Dense -> (BatchNorm) -> activation -> Dropout, as the notes' heads."""
    units = [config["dense_units_1"], config.get("dense_units_2")]
    for width in units[: config["dense_layers"]]:
        if config["dense_batchnorm"]:
            x = layers.Dense(width, kernel_initializer=initializer(config, "dense"))(x)
            x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
            x = layers.Activation(config["activation"])(x)
        else:
            x = layers.Dense(
                width, activation=config["activation"],
                kernel_initializer=initializer(config, "dense"),
            )(x)
        if config["dense_dropout"] > 0:
            x = layers.Dropout(config["dense_dropout"])(x)
    return layers.Dense(NUM_CLASSES, activation="softmax")(x)


def _compile(model, config):
    # "ema": weight averaging, Keras' own (use_ema): at the end of fit the model holds the
    # exponential moving average of its weights. Not a search axis yet: the refit's --refit-ema.
    ema = bool(config.get("ema", False))
    optimizer = OPTIMIZERS[config["optimizer"]](learning_rate=config["learning_rate"], use_ema=ema,
                                                ema_momentum=config.get("ema_momentum", EMA_MOMENTUM))
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return build_training_state(model)


def build_training_state(model):
    """Create the optimizer's, the metrics' and the loss's variables now, not in the first traced step.

    With no distribution strategy, Keras 3 (TensorFlow backend) defers them to the trace of the
    first training step, and a tf.function that creates variables is traced twice. Measured on one
    thread: the first step of notes-final 3.5-4.0 s -> 1.6-1.7 s, of baseline-cnn 1.0 -> 0.5 s;
    at a quarter-epoch first rung that trace was most of a trial. ``_symbolic_build`` is what
    Keras itself runs when a strategy is set; without it (another Keras) the step traces twice.
    """
    symbolic_build = getattr(model, "_symbolic_build", None)
    if symbolic_build is not None:
        batch = (np.zeros((1, *model.input_shape[1:]), "float32"), np.zeros((1,), "int64"))
        symbolic_build(data_batch=batch)
    return model


def _conv(x, filters, config, kernel=3, strides=1):
    x = layers.Conv2D(
        filters, kernel, strides=strides, padding="same",
        activation=config["activation"], kernel_initializer=initializer(config, "conv"),
    )(x)
    if config["conv_batchnorm"] == "after_conv":
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    return x


def _conv_block(x, filters, config, downsample, dropout=True):
    for _ in range(config["convs_per_block"]):
        x = _conv(x, filters, config)
    if config["conv_batchnorm"] == "after_block":
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    if downsample == "maxpool":
        x = layers.MaxPool2D(2)(x)
    elif downsample == "conv5s2":
        x = _conv(x, filters, config, kernel=5, strides=2)
    if dropout and config["conv_dropout"] > 0:
        x = layers.Dropout(config["conv_dropout"])(x)
    return x


HEADS = {
    "flatten": layers.Flatten,
    "global_avg": layers.GlobalAveragePooling2D,
    "global_max": layers.GlobalMaxPooling2D,
}


def build_cnn(config):
    """Build and compile the CNN that ``config`` (a search_spaces.cnn config) describes."""
    inputs, x = _input_stage(config)
    for block in range(1, config["conv_blocks"] + 1):
        # As in the notes' two global-pooling nets: no dropout between the last block and the pool.
        dropout = block < config["conv_blocks"] or config["head"] == "flatten"
        x = _conv_block(x, config[f"filters_{block}"], config, block_downsample(config, block), dropout)
    x = HEADS[config["head"]]()(x)
    return _compile(keras.Model(inputs, _dense_head(x, config), name="cnn"), config)


def refresh_batchnorm(model, images):
    """Precise BatchNorm: set each BN layer's moving mean and variance to the statistics of ``images``
    under the model's current weights (one forward pass in training mode, momentum 0 for it).

    The moving averages trail the weights: after the 7 steps of a quarter epoch they still hold
    half of their initial (0, 1), and the notes' BN-after-every-conv nets, measured on the embedded
    digits, validate at 0.23 where their refreshed statistics give 0.49 (2x-doubled-conv-layers:
    0.54 and 0.79). ASHA's first decisions would rank BN lag, not learning. Returns the layers'
    count (0: nothing to do, and no forward pass).
    """
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    if not norms:
        return 0
    saved = [layer.momentum for layer in norms]
    try:
        for layer in norms:
            layer.momentum = 0.0  # read at call time in eager mode; the traced train step keeps its own
        model(images, training=True)
    finally:
        for layer, momentum in zip(norms, saved):
            layer.momentum = momentum
    return len(norms)


def _mlp_layer(x, width, config):
    """The notes' two orders: BN before the activation, or after activation and dropout."""
    placement, dropout = config["batchnorm"], config["dropout"]
    if placement == "before":
        x = layers.Dense(width)(x)
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
        x = layers.Activation(config["activation"])(x)
    else:
        x = layers.Dense(width, activation=config["activation"])(x)
    if dropout > 0:
        x = layers.Dropout(dropout)(x)
    if placement == "after":
        x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    return x


def build_mlp(config):
    """Build and compile the MLP that ``config`` (a search_spaces.mlp config) describes."""
    # An MLP config has no "augment" key; the input stage then only rescales.
    inputs, x = _input_stage(config)
    x = layers.Flatten()(x)
    widths = [config["dense_units_1"], config.get("dense_units_2")]
    for width in widths[: config["dense_layers"]]:
        x = _mlp_layer(x, width, config)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return _compile(keras.Model(inputs, outputs, name="mlp"), config)


# The notes' schedules: ReduceLROnPlateau(val_loss, patience 3, factor 0.5,
# min_lr 5e-10) and LearningRateScheduler(lr * 0.95 ** epoch).
PLATEAU = {"monitor": "val_loss", "patience": 3, "factor": 0.5, "min_lr": 5e-10}
EXPONENTIAL_DECAY = 0.95


def schedule_callbacks(config, monitor=PLATEAU["monitor"]):
    """Keras callbacks for the config's learning-rate schedule (plateau watches ``monitor``)."""
    schedule = config.get("lr_schedule", "none")
    if schedule == "plateau":
        return [keras.callbacks.ReduceLROnPlateau(**{**PLATEAU, "monitor": monitor})]
    if schedule == "exponential":
        base = config["learning_rate"]
        return [keras.callbacks.LearningRateScheduler(lambda epoch: base * EXPONENTIAL_DECAY**epoch)]
    return []
