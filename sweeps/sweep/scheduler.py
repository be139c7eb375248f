"""The scheduler that stops configs early.

Scheduler (``--scheduler asha``): Ray's ``AsyncHyperBandScheduler`` with
Hyperband brackets. Bracket 0 decides first at ``--grace-period`` (a quarter
epoch for the CNN); bracket s decides first at grace * rf**s, so a slow starter
(heavy augmentation and dropout, the notes' winners) that would be cut at a
quarter epoch survives there to the horizon where it overtakes. Ray assigns
brackets at random; here the same proportions are dealt in a fixed interleave
(smooth weighted round-robin), so a sweep is reproducible.

Ray's brackets decide on arrival: a trial continues when it is in the top
1/rf of the results its rung holds, so the first trial at a rung always
continues, the second when it beats the first, and so on. Early in a sweep,
when rungs hold few results, far more than 1/rf go on: in a default 10-minute
run 10 of 46 trials ran to the last rung, taking 76% of all trial time. Here a
rung also keeps a quota, ASHA's own promotion rate: of n arrivals at most
ceil(n/rf) go on. A better arrival when the quota is full takes the place of
the weakest trial still on its way from that rung to the next, which is
stopped at its next report (it cannot be paused and resumed for free), so the
best of the arrivals goes on, not the first.
"""

import math

import numpy as np
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler
from ray.tune.schedulers.async_hyperband import _Bracket


def milestones(grace_period, reduction_factor, max_t, brackets):
    """Each bracket's decision points below ``max_t``, as the scheduler computes them."""
    return [
        [grace_period * reduction_factor ** (k + s) for k in range(_rungs(grace_period, reduction_factor, max_t, s))]
        for s in range(brackets)
    ]


def _rungs(grace_period, reduction_factor, max_t, s):
    # Ray's _Bracket: int(log(max_t / min_t) / log(rf) - s + 1) rungs; rounded first so that
    # 0.25 * 4**3 == 16 counts as a rung however the logarithms round.
    return max(0, int(round(math.log(max_t / grace_period) / math.log(reduction_factor), 9) - s + 1))


def fractional_reports(grace_period, reduction_factor, max_t, brackets):
    """The decision points that are not epoch ends: the trainable reports there too."""
    points = {m for bracket in milestones(grace_period, reduction_factor, max_t, brackets) for m in bracket}
    return sorted(m for m in points if m < max_t and m != int(m))


class QuotaBracket(_Bracket):
    """Ray's ASHA bracket with a promotion quota per rung, and preemption of weaker promotions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._promoted = {milestone: {} for milestone, _ in self._rungs}  # rung -> {trial: value}
        self._in_flight = {}  # trial -> the rung it went on from, until it reaches the next one
        self._seeded = {milestone: 0 for milestone, _ in self._rungs}  # earlier runs' results per rung
        self.preempted = set()

    def seed(self, trial_id, milestone, value):
        """An earlier run's result at a rung: it raises the cutoff, and takes no promotion."""
        recorded = dict(self._rungs)[milestone]
        if trial_id not in recorded:
            recorded[trial_id] = value
            self._seeded[milestone] += 1

    def on_result(self, trial, cur_iter, cur_rew):
        for milestone, recorded in self._rungs:  # descending: the highest rung reached decides
            if cur_iter < milestone:
                continue
            if trial.trial_id in recorded:
                return TrialScheduler.CONTINUE  # decided when it arrived here
            return self._arrive(trial.trial_id, milestone, recorded, cur_rew)
        return TrialScheduler.CONTINUE

    def _arrive(self, trial_id, milestone, recorded, value):
        self._in_flight.pop(trial_id, None)  # it reached its next rung: that promotion stands
        cutoff = self.cutoff(recorded)
        if value is None or value != value:  # no metric, or NaN: nothing to rank
            return TrialScheduler.STOP
        recorded[trial_id] = value
        if cutoff is not None and value < cutoff:
            return TrialScheduler.STOP
        promoted = self._promoted[milestone]
        if len(promoted) >= math.ceil((len(recorded) - self._seeded[milestone]) / self.rf):
            weaker = [t for t in promoted if self._in_flight.get(t) == milestone and promoted[t] < value]
            if not weaker:
                return TrialScheduler.STOP
            displaced = min(weaker, key=promoted.get)
            del promoted[displaced], self._in_flight[displaced]
            self.preempted.add(displaced)
        promoted[trial_id] = value
        self._in_flight[trial_id] = milestone
        return TrialScheduler.CONTINUE

    def record_end(self, trial_id, cur_iter, cur_rew):
        """A trial ended (stopped, finished, failed): keep its result, decide nothing."""
        self._in_flight.pop(trial_id, None)
        for milestone, recorded in self._rungs:
            if cur_iter >= milestone and trial_id not in recorded and cur_rew is not None:
                recorded[trial_id] = cur_rew
                return


class HedgedASHA(AsyncHyperBandScheduler):
    """ASHA over Hyperband brackets, dealt in a fixed interleave with Ray's own proportions, each
    bracket promoting at most 1/reduction_factor of a rung's arrivals (``QuotaBracket``)."""

    def __init__(self, history=(), **kwargs):
        super().__init__(**kwargs)
        self._history = list(history)  # earlier trials of an extended experiment, put in at the rungs
        grace, max_t, factor = kwargs["grace_period"], kwargs["max_t"], kwargs["reduction_factor"]
        self._brackets = [QuotaBracket(grace, max_t, factor, s) for s in range(len(self._brackets))]
        sizes = np.array([len(bracket._rungs) for bracket in self._brackets], dtype=float)
        weights = np.e ** (sizes - sizes.max())  # AsyncHyperBandScheduler.on_trial_add's weights
        self._weights = weights / weights.sum()
        self._credit = np.zeros(len(self._brackets))

    def set_search_properties(self, metric, mode, **spec):
        accepted = super().set_search_properties(metric, mode, **spec)
        if self._history and self._metric_op is not None:  # the metric's sign is known only now
            from sweeps.sweep.warm_start import seed_bracket

            for bracket in self._brackets:
                seed_bracket(bracket, self._history, self._metric_op)
            self._history = []
        return accepted

    def on_trial_add(self, tune_controller, trial):
        super().on_trial_add(tune_controller, trial)  # checks metric and mode; its random pick is replaced
        self._credit += self._weights
        index = int(np.argmax(self._credit))
        self._credit[index] -= 1.0
        self._trial_info[trial.trial_id] = self._brackets[index]

    def on_trial_result(self, tune_controller, trial, result):
        bracket = self._trial_info.get(trial.trial_id)
        if bracket is not None and trial.trial_id in bracket.preempted and self._time_attr in result:
            bracket.preempted.discard(trial.trial_id)
            self._num_stopped += 1
            return TrialScheduler.STOP  # a better trial took its place at the rung it last passed
        return super().on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial, result):
        bracket = self._trial_info.pop(trial.trial_id, None)
        if bracket is not None and self._time_attr in result and self._metric in result:
            bracket.record_end(trial.trial_id, result[self._time_attr], self._metric_op * result[self._metric])

    def on_trial_remove(self, tune_controller, trial):
        bracket = self._trial_info.pop(trial.trial_id, None)
        if bracket is not None:
            bracket.record_end(trial.trial_id, 0, None)

    def bracket_of(self, trial_id):
        bracket = self._trial_info.get(trial_id)
        return None if bracket is None else self._brackets.index(bracket)


def make_scheduler(kind, *, time_attr, max_t, grace_period, reduction_factor, brackets, history=()):
    if kind == "fifo":
        return FIFOScheduler()
    if kind == "ray-asha":  # the earlier design: Ray's brackets, drawn at random, no quota
        return AsyncHyperBandScheduler(time_attr=time_attr, max_t=max_t, grace_period=grace_period,
                                       reduction_factor=reduction_factor, brackets=brackets)
    return HedgedASHA(
        time_attr=time_attr, max_t=max_t, grace_period=grace_period,
        reduction_factor=reduction_factor, brackets=brackets, history=history,
    )
