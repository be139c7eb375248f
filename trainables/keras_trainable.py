"""The Ray Tune trainable for Keras families: reports at fractions of an epoch, then every epoch.

A trial builds its model from the config with the family's pure builder (or
loads it from ``tune.get_checkpoint()`` and carries on at the next epoch) and
fits it in one ``model.fit``. Its own Keras callback (``EpochReporter``) reports
with Tune's public ``tune.report`` at every epoch end, with a checkpoint, and also
at the fractional points the scheduler decides at (``report_at``, e.g. a quarter
epoch), without one: ASHA's first
decision then costs a fraction of an epoch, and ``epoch`` is a float
(0.25, 1.0, 2.0, ...). Each checkpoint holds the model and
``trial_state.json`` with the epoch reached, the seed and the resolved config.

Before every validation the BatchNorm layers' moving statistics are recomputed
from 256 training digits under the current weights (``refresh_batchnorm``,
"precise BN"): at a quarter epoch the moving averages still hold half their
initial values, and the rung would rank that lag instead of what a net learned.

The first report also carries ``fixed_cost_s``: the time from the trial's
start to that report less the steady compute of the steps it trained (clearing
the session, building, tracing, the first validation), so the per-trial
overhead that cheap rungs must not drown in is measured in every sweep; and
its parts: ``setup_s`` (start to the beginning of fit), ``first_step_s`` (the
first step, which traces the graph) and ``gc_s`` (time in Python's full garbage
collections meanwhile, the cause of its rare 15-35 s stalls).
"""

import gc
import json
import statistics
import tempfile
import time
import zlib
from pathlib import Path

import keras
import ray
from ray import tune

from search_spaces import without_origin
from trainables.models import PRECISE_BN_IMAGES, refresh_batchnorm, schedule_callbacks, steps_per_epoch
from trainables.ray_adapter import quiet_checkpoint_logs

MODEL_FILE = "model.keras"
STATE_FILE = "trial_state.json"
_gc = {"seconds": 0.0, "started": None, "frozen": False}
REPORTED = [
    "val_accuracy", "val_loss", "accuracy", "loss", "epoch", "epoch_time_s", "num_params", "learning_rate",
    "fixed_cost_s", "setup_s", "first_step_s", "gc_s", "gc_frozen",
]


def _time_full_collections(phase, info):
    """gc callback: seconds spent in full (generation 2) collections, which in a reused worker can
    stall a trial for 15-35 s (measured; see bench/RESULTS.md, fixed_cost_profile)."""
    if info["generation"] == 2:
        if phase == "start":
            _gc["started"] = time.perf_counter()
        elif _gc["started"] is not None:
            _gc["seconds"] += time.perf_counter() - _gc["started"]


def assigned_resources():
    """What Ray gave this task or trial ({"CPU": 1, "GPU": 0.25}); {} in a driver, which has none."""
    if not ray.is_initialized():
        return {}
    try:
        return ray.get_runtime_context().get_assigned_resources()
    except AssertionError:  # Ray asserts worker mode: the driver (the library ensemble, a benchmark)
        return {}


def configure_tensorflow(cpus=None):
    """Match TensorFlow's thread pools to the trial's CPUs; must run before the first TF op."""
    import tensorflow as tf

    from trainables import gpu

    assigned = assigned_resources()
    if cpus is None:
        cpus = max(1, int(assigned.get("CPU", 1)))
    # A reused worker traces a new model for every trial; TensorFlow's "excessive retracing"
    # warning counts those across trials and means nothing here.
    tf.get_logger().setLevel("ERROR")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(cpus)
        tf.config.threading.set_inter_op_parallelism_threads(min(cpus, 2))
        gpu_ids = ray.get_gpu_ids() if ray.is_initialized() and assigned.get("GPU") else []
        gpu.configure(tf, tf.config.list_physical_devices("GPU"), assigned.get("GPU"), gpu_ids)
    except RuntimeError:
        pass  # TF already started in this process (a reused worker): its pools stay as they are.
    return cpus


def trial_seed(config, base_seed):
    """The same hyperparameters and base seed give the same seed, in any run and on any node,
    whichever part of the search proposed them (the ``origin`` tag is not hashed)."""
    return (zlib.crc32(json.dumps(without_origin(config), sort_keys=True, default=str).encode()) + base_seed) % 2**31


def points_after(report_at, start_epoch):
    """The fractional report points still ahead of a trial resumed at ``start_epoch`` (a rung at
    1.5 epochs, say, with ``--grace-period 0.5 --reduction-factor 3``)."""
    return [point for point in report_at if point > start_epoch]


class EpochReporter(keras.callbacks.Callback):
    """Reports to Tune (its public ``tune.report``) at every epoch end with a checkpoint of the model and
    the trial state, and at fractional epochs without one; times the trial's fixed cost."""

    def __init__(self, config, seed, report_at=(), validation=None, started=None, bn_images=None):
        super().__init__()
        self._state = {"config": config, "seed": seed}
        self._bn_images = bn_images
        self._pending = sorted(point for point in report_at if point != int(point))
        self._validation = validation
        self._trial_started = started if started is not None else time.perf_counter()
        self._step_times = []
        self._steps_done = 0
        self._epoch = 0
        self._epoch_started = self._last_step = 0.0
        self._fixed_cost = self._setup = None
        self._gc_at_start = _gc["seconds"]

    def on_train_begin(self, logs=None):
        self._setup = time.perf_counter() - self._trial_started  # clear, build, load: before fit runs

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_started = self._last_step = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self._step_times.append(now - self._last_step)
        self._last_step = now
        self._steps_done += 1
        progress = self._epoch + (batch + 1) / self.params["steps"]
        point = None
        while self._pending and progress >= self._pending[0] - 1e-9:
            point = self._pending.pop(0)  # a short epoch may pass several points in one step
        if point is not None or batch + 1 == self.params["steps"]:
            # Every validation (here, or Keras' own at the epoch's end, which runs after this
            # step) sees BN statistics of the current weights, not of the trajectory.
            self._refresh_batchnorm()
        if point is not None:
            self._report_fraction(point, logs)
        self._last_step = time.perf_counter()  # neither refresh nor validation is a training step

    def _refresh_batchnorm(self):
        if self._bn_images is not None:
            refresh_batchnorm(self.model, self._bn_images)

    def _report_fraction(self, point, logs):
        x_val, y_val = self._validation
        # evaluate() resets the compiled metrics: the first epoch's training accuracy then
        # covers only the steps after this report, which is all the scheduler never reads.
        val = self.model.evaluate(x_val, y_val, verbose=0, return_dict=True)
        logs = {**(logs or {}), **{f"val_{k}": v for k, v in val.items()}}
        logs.update(self._extra(point, time.perf_counter() - self._epoch_started))
        tune.report(self._reported(logs))

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs.update(self._extra(float(epoch + 1), time.perf_counter() - self._epoch_started))
        self._state["epoch"] = epoch + 1
        with tempfile.TemporaryDirectory() as directory:
            self.model.save(Path(directory, MODEL_FILE))
            Path(directory, STATE_FILE).write_text(json.dumps(self._state, indent=2, default=str))
            tune.report(self._reported(logs), checkpoint=tune.Checkpoint.from_directory(directory))

    def _extra(self, point, epoch_time_s):
        extra = {
            "epoch": point, "epoch_time_s": epoch_time_s, "num_params": self.model.count_params(),
            "learning_rate": float(self.model.optimizer.learning_rate.numpy()),
        }
        if self._fixed_cost is None:
            self._fixed_cost = self._measure_fixed_cost()
            extra.update(fixed_cost_s=self._fixed_cost, setup_s=self._setup, first_step_s=self._step_times[0],
                         gc_s=_gc["seconds"] - self._gc_at_start, gc_frozen=gc.get_freeze_count())
        return extra

    def _measure_fixed_cost(self):
        """Wall time to this first report less the steady compute of the steps trained so far."""
        steady = self._step_times[1:]  # the first step traces the graph: it is fixed cost
        median = statistics.median(steady) if steady else 0.0
        return max(0.0, time.perf_counter() - self._trial_started - median * self._steps_done)

    @staticmethod
    def _reported(logs):
        # fixed_cost_s is in the first report only.
        return {name: logs[name] for name in REPORTED if name in logs}


def freeze_long_lived_objects():
    """Once per worker, at its first trial: TensorFlow's, Keras' and Ray's module objects, alive
    for the process's whole life, move out of the collector's generations (``gc.freeze``). Python's
    full collections then walk only what trials create: in reused workers they had stalled trials
    for 15-35 s, walking those modules' millions of objects again and again."""
    if not _gc["frozen"]:
        gc.collect()  # what is garbage now is freed, not frozen
        gc.freeze()
        _gc["frozen"] = True


def load_checkpoint(checkpoint_dir):
    """(model, trial state) from a checkpoint directory this trainable wrote."""
    checkpoint_dir = Path(checkpoint_dir)
    state = json.loads((checkpoint_dir / STATE_FILE).read_text())
    return keras.models.load_model(checkpoint_dir / MODEL_FILE), state


def train_keras(config, data, build, max_epochs, base_seed=0, report_at=()):
    """Tune function trainable: fit ``build(config)`` on ``data`` for up to ``max_epochs``.

    ``report_at``: fractional epochs (0.25, ...) to report at besides every epoch end.
    """
    started = time.perf_counter()
    # Ray logs "Checkpoint successfully created at ..." for every epoch of every trial.
    quiet_checkpoint_logs()
    configure_tensorflow()
    # This worker may have run another trial: drop its model and graph, without the full garbage
    # collection clear_session runs by default. In a reused Ray worker one costs 5-11 s (measured),
    # on the trial's critical path; Python's own collections still bound the heap.
    if _time_full_collections not in gc.callbacks:
        gc.callbacks.append(_time_full_collections)
    freeze_long_lived_objects()
    keras.utils.clear_session(free_memory=False)
    seed = trial_seed(config, base_seed)
    keras.utils.set_random_seed(seed)
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as checkpoint_dir:
            model, state = load_checkpoint(checkpoint_dir)
        start_epoch = state["epoch"]
        report_at = points_after(report_at, start_epoch)  # those of epochs already trained were reported
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
        callbacks=[
            *schedule_callbacks(config, epochs=max_epochs, steps_per_epoch=steps_per_epoch(data.x_train, config)),
            EpochReporter(config, seed, report_at, (data.x_val, data.y_val), started,
                          bn_images=data.x_train[:PRECISE_BN_IMAGES]),
        ],
        verbose=0,
    )
