"""The Ray Tune trainable for Keras families: one epoch per report, a checkpoint per epoch.

A trial builds its model from the config with the family's pure builder (or
loads it from ``tune.get_checkpoint()`` and carries on at the next epoch),
fits one epoch at a time and reports through Ray's Keras callback, so ASHA can
stop it after any epoch. Each checkpoint holds the model and
``trial_state.json`` with the epoch reached, the seed and the resolved config.
"""

import json
import tempfile
import time
import zlib
from pathlib import Path

import ray
from ray import tune
from ray.tune.integration.keras import TuneReportCheckpointCallback

MODEL_FILE = "model.keras"
STATE_FILE = "trial_state.json"
REPORTED = ["val_accuracy", "val_loss", "accuracy", "loss", "epoch", "epoch_time_s", "num_params", "learning_rate"]


def configure_tensorflow(cpus=None):
    """Match TensorFlow's thread pools to the trial's CPUs; must run before the first TF op."""
    import tensorflow as tf

    if cpus is None:
        assigned = ray.get_runtime_context().get_assigned_resources() if ray.is_initialized() else {}
        cpus = max(1, int(assigned.get("CPU", 1)))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(min(cpus, 2))
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:
        pass  # TF already started in this process (a reused worker): its pools stay as they are.
    return cpus


def trial_seed(config, base_seed):
    """The same config and base seed give the same seed, in any run and on any node."""
    return (zlib.crc32(json.dumps(config, sort_keys=True, default=str).encode()) + base_seed) % 2**31


class EpochReporter(TuneReportCheckpointCallback):
    """Ray's Keras report callback, plus the epoch count, timing and the trial state in each checkpoint."""

    def __init__(self, config, seed):
        super().__init__(metrics=REPORTED, checkpoint_on="epoch_end", report_metrics_on="epoch_end")
        self._state = {"config": config, "seed": seed}
        self._started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        super().on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs.update(
            epoch=epoch + 1,
            epoch_time_s=time.perf_counter() - self._started,
            num_params=self.model.count_params(),
            learning_rate=float(self.model.optimizer.learning_rate.numpy()),
        )
        self._state["epoch"] = epoch + 1
        super().on_epoch_end(epoch, logs)

    def _handle(self, logs, when):
        # Ray's own handler saves through the deprecated TensorflowCheckpoint;
        # a plain tune.Checkpoint directory holds the model and the trial state.
        metrics = self._get_reported_metrics(logs)
        with tempfile.TemporaryDirectory() as directory:
            self.model.save(Path(directory, MODEL_FILE))
            Path(directory, STATE_FILE).write_text(json.dumps(self._state, indent=2, default=str))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))


def load_checkpoint(checkpoint_dir):
    """(model, trial state) from a checkpoint directory this trainable wrote."""
    import keras

    checkpoint_dir = Path(checkpoint_dir)
    state = json.loads((checkpoint_dir / STATE_FILE).read_text())
    return keras.models.load_model(checkpoint_dir / MODEL_FILE), state


def train_keras(config, data, build, max_epochs, base_seed=0):
    """Tune function trainable: fit ``build(config)`` on ``data`` for up to ``max_epochs``."""
    configure_tensorflow()
    import keras

    from trainables.models import schedule_callbacks

    keras.utils.clear_session()  # this worker may have run another trial: drop its model and graph
    seed = trial_seed(config, base_seed)
    keras.utils.set_random_seed(seed)
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as checkpoint_dir:
            model, state = load_checkpoint(checkpoint_dir)
        start_epoch = state["epoch"]
    else:
        model, start_epoch = build(config), 0
    if start_epoch >= max_epochs:
        return
    model.fit(
        data.x_train, data.y_train,
        batch_size=config["batch_size"],
        epochs=max_epochs,
        initial_epoch=start_epoch,
        validation_data=(data.x_val, data.y_val),
        callbacks=[*schedule_callbacks(config), EpochReporter(config, seed)],
        verbose=0,
    )
