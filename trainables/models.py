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

OPTIMIZERS = {"adam": keras.optimizers.Adam, "nadam": keras.optimizers.Nadam, "adamw": keras.optimizers.AdamW}
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


@keras.saving.register_keras_serializable(package="digit_sweep")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy on integer labels with label smoothing, which Keras' own
    SparseCategoricalCrossentropy (3.15) does not offer; one-hot, then Keras' categorical one."""

    def __init__(self, label_smoothing=0.1, name="smoothed_sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        return keras.losses.categorical_crossentropy(keras.ops.one_hot(labels, NUM_CLASSES), y_pred,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def loss(config):
    smoothing = config.get("label_smoothing", 0.0)
    return SmoothedSparseCrossentropy(smoothing) if smoothing else "sparse_categorical_crossentropy"


def optimizer(config):
    """The config's optimizer. ``weight_decay`` is AdamW's (decoupled); Adam and Nadam ignore it.
    "ema": weight averaging, Keras' own (use_ema): at the end of fit the model holds the exponential
    moving average of its weights. Not a search axis: the refit's --refit-ema (a trial's
    checkpoints and rung reports would need the average swapped in at every report)."""
    extra = {"weight_decay": config["weight_decay"]} if config["optimizer"] == "adamw" else {}
    return OPTIMIZERS[config["optimizer"]](learning_rate=config["learning_rate"], use_ema=bool(config.get("ema", False)),
                                           ema_momentum=config.get("ema_momentum", EMA_MOMENTUM), **extra)


def _compile(model, config):
    model.compile(optimizer=optimizer(config), loss=loss(config), metrics=["accuracy"])
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
# Two the notes never tried, as the fast small-data recipes use them: cosine decay to zero over the
# whole run after a short warm-up, and one-cycle (the usual form: 30% of the steps rising from
# lr/25, then cosine down). (share of the steps warming up, starting rate as a share of lr)
WARM_UPS = {"cosine": (0.05, 0.1), "one_cycle": (0.3, 1 / 25)}


class StepSchedule(keras.callbacks.Callback):
    """Sets the rate before every batch from a Keras ``LearningRateSchedule`` of the optimizer's step
    count (restored with a checkpoint, so a resumed trial goes on where it was). Keras'
    LearningRateScheduler sets it once an epoch: too coarse for a warm-up of a few dozen steps."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = float(self.schedule(int(self.model.optimizer.iterations)))


def step_schedule(config, total_steps):
    """The Keras CosineDecay, with its warm-up, that the config's cosine or one-cycle schedule is."""
    share, start = WARM_UPS[config["lr_schedule"]]
    warm_up = max(1, int(share * total_steps))
    base = config["learning_rate"]
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=base * start, decay_steps=max(1, total_steps - warm_up), alpha=0.0,
        warmup_target=base, warmup_steps=warm_up)


def schedule_callbacks(config, monitor=PLATEAU["monitor"], epochs=None, steps_per_epoch=None):
    """Keras callbacks for the config's learning-rate schedule (plateau watches ``monitor``); the
    cosine and one-cycle schedules span ``epochs`` of ``steps_per_epoch`` (the run's horizon)."""
    schedule = config.get("lr_schedule", "none")
    if schedule == "plateau":
        return [keras.callbacks.ReduceLROnPlateau(**{**PLATEAU, "monitor": monitor})]
    if schedule == "exponential":
        base = config["learning_rate"]
        return [keras.callbacks.LearningRateScheduler(lambda epoch: base * EXPONENTIAL_DECAY**epoch)]
    if schedule in WARM_UPS:
        if not epochs or not steps_per_epoch:
            raise ValueError(f"lr_schedule {schedule!r} spans the whole run: give epochs and steps_per_epoch")
        return [StepSchedule(step_schedule(config, epochs * steps_per_epoch))]
    return []


def steps_per_epoch(images, config):
    return -(-len(images) // config["batch_size"])
