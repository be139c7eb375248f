"""Snapshot members: one refit member's run split into cycles of cosine annealing, each ending
with its weights kept as a member of the ensemble (Huang et al., 2017, "Snapshot Ensembles"). The
rate restarts at the config's learning rate and falls to zero over each cycle, so the weights at a
cycle's end sit in a minimum and the next cycle leaves it for another: several members for the
time of one run, each trained for a share of it.

The run's length moves (``fit_to_deadline``): the cycles already ended stay where they ended and
the ones to come share out the new length."""

import math


def cycle_ends(start, length, cycles):
    """The epochs at which ``cycles`` equal cycles beginning at epoch ``start`` end when the run is
    ``length`` epochs long; fewer cycles when the run leaves less than an epoch each."""
    cycles = max(1, min(cycles, length - start))
    return [start + round((length - start) * (k + 1) / cycles) for k in range(cycles)]


def cyclic_rate(base, epoch, ends):
    """The rate at ``epoch`` (fractional: batches count) within its cycle of ``ends``: cosine from
    ``base`` at the cycle's start to zero at its end."""
    start = max([0, *(end for end in ends if end <= epoch)])
    end = next((end for end in ends if end > epoch), ends[-1])
    if end <= start:  # past the last cycle (a run longer than its plan): the rate stays at its floor
        return 0.0
    return base * 0.5 * (1 + math.cos(math.pi * (epoch - start) / (end - start)))


def snapshot_cycles(base_rate, cycles, length, steps_per_epoch, take):
    """A Keras callback that sets the rate before every batch (``cyclic_rate``) and calls
    ``take(epochs_done)`` at the end of every cycle but the last (the run's final weights are the last
    snapshot, taken by the caller after ``fit``); ``taken`` holds what ``take`` returned, and
    ``retarget(length)`` moves the cycles still to come to a new length."""
    import keras

    class SnapshotCycles(keras.callbacks.Callback):
        taken, done, epoch = (), 0, 0

        def __init__(self):
            super().__init__()
            self.ends = cycle_ends(0, length, cycles)

        def retarget(self, new_length):
            ended = [end for end in self.ends if end <= self.done]
            self.ends = ended + cycle_ends(max([0, *ended]), new_length, cycles - len(ended))

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            rate = cyclic_rate(base_rate, self.epoch + batch / steps_per_epoch, self.ends)
            self.model.optimizer.learning_rate = rate

        def on_epoch_end(self, epoch, logs=None):
            self.done = epoch + 1
            if self.done in self.ends[:-1]:
                self.taken += (take(self.done),)

    return SnapshotCycles()
