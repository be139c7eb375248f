"""Training one ensemble member from scratch: a Ray task, one per member, run in parallel.

Each member gets its own seed and the config's full schedule and
augmentation; it returns its softmax outputs on the validation split (for
greedy selection), the test split (for the report only) and any extra images
(a Kaggle test.csv), plus the saved model.
"""

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

FIT_ON = ("train", "train+val", "random-split", "all")
REFIT_ON = ("train", "train+val", "all")  # the refit's choices: its members keep the sweep's split
# Schedules the refit may impose on every member: they span the member's run and follow its length.
REFIT_SCHEDULES = ("cosine", "one_cycle")
# With a time budget, a refit member's most epochs, as a multiple of the sweep's --max-epochs (the
# horizon): on this data accuracy still rises past it (notes-final: 0.982-0.990 at 20 epochs). At 3 x,
# 30-minute refits trained 3-4 configs or seeds to 48 epochs and idled their slots for the last
# 128-200 s; at 6 x the 2 heaviest configs trained 83-96 epochs, each better alone, +0.07 and +0.33
# together on seeds 0 and 1 (bench/RESULTS.md section 13).
EPOCH_CAP = 6


def add_refit_member_options(group):
    """How each refit member trains, on ``cnn_search.py --ensemble`` and ``library.py`` alike."""
    group.add_argument("--refit-ema", action="store_true",
                       help="refit members average their weights over training (Keras' use_ema, momentum 0.99)")
    group.add_argument("--refit-snapshots", type=int, default=1, metavar="K",
                       help="snapshots per refit member: its run split into K cycles of cosine annealing from the "
                       "config's rate, the weights at each cycle's end a member (default 1: one member, the config's "
                       "own schedule)")
    group.add_argument("--refit-schedule", choices=REFIT_SCHEDULES,
                       help="every refit member's learning-rate schedule instead of its config's own: cosine decay to "
                       "zero over the member's run after a 5%% warm-up, or one-cycle (default: the config's)")


def check_refit_member_options(args, parser):
    """``parser.error`` (exit 2) for a combination of ``add_refit_member_options``' flags that cannot train."""
    if args.refit_snapshots > 1 and args.refit_ema:
        parser.error("--refit-snapshots with --refit-ema: choose one (a snapshot mid-run is of the raw weights, "
                     "the last of the averaged ones)")
RANDOM_SPLIT_SHARE = 0.9


def member_training_set(data, fit_on, seed):
    """(x, y, validation data or None) for a member; ``random-split`` keeps 90% of train, by seed."""
    if fit_on == "train":
        return data.x_train, data.y_train, (data.x_val, data.y_val)
    if fit_on == "train+val":
        return np.concatenate([data.x_train, data.x_val]), np.concatenate([data.y_train, data.y_val]), None
    if fit_on == "all":  # every labelled digit: the last step before a Kaggle submission
        return (np.concatenate([data.x_train, data.x_val, data.x_test]),
                np.concatenate([data.y_train, data.y_val, data.y_test]), None)
    if fit_on == "random-split":
        keep = np.random.default_rng(seed).permutation(len(data.y_train))
        keep = np.sort(keep[: int(RANDOM_SPLIT_SHARE * len(keep))])
        return data.x_train[keep], data.y_train[keep], (data.x_val, data.y_val)
    raise ValueError(f"fit_on must be one of {FIT_ON}, got {fit_on!r}")


def fit_to_deadline(deadline, epochs, most=None, retarget=None, clock=time.time):
    """A Keras callback that fits a member's epochs to the time it has: after each epoch it counts
    the epochs that still end by ``deadline`` (seconds since the epoch: tasks run in other
    processes) at the median of its epochs (the first one, which traces the graph, only until
    there is another; the last three swung a length by a third) and takes that as its length, at
    most ``most`` (default ``epochs``, the plan's). A length may grow only while the member is in
    the first half of it, so that a schedule near its end is not stretched; it stops after the
    epoch that leaves too little time for another as long. ``retarget(epochs)`` is told each new
    length, so that a schedule spanning the whole run (cosine, one-cycle) ends where the member
    ends. The plan's ``epochs`` come from the sweep's epoch times, which misstate a refit epoch by
    a factor that differs from one machine to another and from one config to another (0.5 to 1.3
    of them measured): the member's own epochs are the measure."""
    import keras

    most = max(epochs, most or epochs)

    class FitToDeadline(keras.callbacks.Callback):
        target, told, durations = epochs, staticmethod(retarget or (lambda length: None)), ()

        def on_epoch_begin(self, epoch, logs=None):
            self.began = clock()

        def on_epoch_end(self, epoch, logs=None):
            now, done = clock(), epoch + 1
            self.durations += (now - self.began,)
            per_epoch = statistics.median(self.durations[1:] or self.durations)
            fits = done if now + self.durations[-1] > deadline else done + int((deadline - now) // per_epoch)
            target = min(most, fits) if done <= min(most, fits) / 2 else min(self.target, fits)
            if target != self.target and target > done:
                self.told(target)
            self.target = target
            if done >= target:
                self.model.stop_training = True

    return FitToDeadline()


def member_callbacks(config, epochs, validation, deadline, steps_per_epoch=None, most=None, snapshots=None):
    """The config's schedule; with validation held out, the best epoch's weights kept (by
    validation loss, the quantity the plateau schedule watches); with a deadline, the member's
    length fitted to it (``fit_to_deadline``), at most ``most`` epochs. ``snapshots``: a
    ``snapshot_cycles`` callback that replaces the schedule and the best epoch (a snapshot is the
    weights at a cycle's end, whatever the validation loss)."""
    import keras

    from trainables.models import StepSchedule, schedule_callbacks, step_schedule

    if snapshots is not None:
        callbacks = [snapshots]
    else:
        callbacks = schedule_callbacks(config, monitor="val_loss" if validation else "loss", epochs=epochs,
                                       steps_per_epoch=steps_per_epoch)
    if validation and snapshots is None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=max(epochs, most or 0),
                                                       restore_best_weights=True))
    if deadline is not None:
        def retarget(length):
            for callback in callbacks:
                if isinstance(callback, StepSchedule):
                    callback.schedule = step_schedule(config, length * steps_per_epoch)
                elif callback is snapshots:
                    callback.retarget(length)

        callbacks.append(fit_to_deadline(deadline, epochs, most, retarget))
    return callbacks


class EpochBoard:
    """Epochs done and planned per member, told by the members (``epoch_progress``) and read by
    the refit's driver; a Ray actor of no CPU."""

    def __init__(self, lengths):
        self.epochs, self.lengths = [0] * len(lengths), list(lengths)

    def report(self, member, epochs, length=None):
        self.epochs[member] = max(self.epochs[member], epochs)
        self.lengths[member] = length or self.lengths[member]

    def read(self):
        return list(self.epochs), list(self.lengths)


def epoch_progress(progress, member, length=lambda: None):
    """A Keras callback that tells ``progress`` (an ``EpochBoard`` actor) each epoch done and the
    member's length now (``length()``), for the driver's progress line. Fire and forget: a task
    blocked in ``ray.get`` gives its CPU back to Ray, which starts a waiting member on it (Ray's
    "yielding resources while blocked"), so a member that waited for each report would train more
    members at once than the CPUs hold (3 on 2 CPUs, seen in a refit with ``ray.util.queue``: its
    last members started late and the deadline cut them)."""
    import keras

    def report(epoch, logs=None):
        try:
            progress.report.remote(member, epoch + 1, length())
        except Exception:  # noqa: BLE001 - a gone board costs a progress line, never the member
            pass

    return keras.callbacks.LambdaCallback(on_epoch_end=report)


def train_member(config, seed, build_ref, data, fit_on, epochs, cpus, extra_images=None, deadline=None,
                 progress=None, member=0, tta=1, most=None, snapshots=1):
    """Fit ``build(config)`` from scratch; return probabilities, the epochs trained and the saved
    model's bytes. ``deadline`` (``time.time()`` seconds): the member's ``epochs`` fitted to end by
    it, at most ``most`` (``fit_to_deadline``); ``progress``: told each epoch done (``epoch_progress``);
    ``snapshots`` above 1: that many cycles (``trainables.snapshots``), the earlier snapshots' results
    under ``"snapshots"``."""
    from trainables.keras_trainable import configure_tensorflow

    configure_tensorflow(max(1, int(cpus)))
    import keras

    from trainables import resolve
    from trainables.models import steps_per_epoch
    from trainables.snapshots import snapshot_cycles

    keras.utils.set_random_seed(seed)
    x, y, validation = member_training_set(data, fit_on, seed)
    model = resolve(build_ref)(config)
    most = epochs if deadline is None else max(epochs, most or epochs)  # Keras' own limit; the deadline sets the length
    steps = steps_per_epoch(x, config)

    def result(epochs_trained):
        from trainables.ensemble import predict_views

        def predict(images):
            return None if images is None else predict_views(model, images, tta)

        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory, "member.keras")
            model.save(path)
            model_bytes = path.read_bytes()
        return {"val": predict(data.x_val), "test": predict(data.x_test), "extra": predict(extra_images),
                "model": model_bytes, "epochs_trained": epochs_trained}

    cycles = snapshot_cycles(config["learning_rate"], snapshots, epochs, steps, result) if snapshots > 1 else None
    callbacks = member_callbacks(config, epochs, validation, deadline, steps, most, cycles)
    if progress is not None:  # after the fitting callback (the last, with a deadline): it reports the length set
        fitter = callbacks[-1] if deadline is not None else None
        callbacks.append(epoch_progress(progress, member, lambda: getattr(fitter, "target", None)))
    history = model.fit(x, y, batch_size=config["batch_size"], epochs=most, validation_data=validation,
                        callbacks=callbacks, verbose=0)
    final = result(len(history.epoch))
    return {**final, "snapshots": list(cycles.taken)} if cycles is not None else final
