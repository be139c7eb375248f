"""The scheduler that stops configs early, written on Ray Tune's public ``TrialScheduler`` hooks.

``--scheduler asha`` (the default) is ``PatientASHA``: asynchronous successive halving over
Hyperband brackets. Bracket 0 decides first at ``--grace-period`` (a quarter epoch for the CNN);
bracket s first at grace * rf**s, so a config in a later bracket is heard longer before it is
judged. Brackets are dealt in a fixed interleave with Ray's proportions (smooth weighted
round-robin), so a sweep is reproducible. Three rules on top of Ray's ASHA, each chosen on the
recorded table of learning curves (``bench/replay.py``; figures in bench/RESULTS.md):

- **A quota per rung.** Ray's rung lets a trial go on when it is in the top 1/rf of the results
  the rung holds so far, so early in a sweep nearly every arrival goes on. Here, of n arrivals
  at most ceil(n/rf) go on; a better arrival when the quota is full takes the place of the
  weakest trial still on its way to the next rung, which stops at its next report.
- **The user's presets in the most patient bracket** (``presets="patient"``): their own recipes
  are judged first where the notes' slow starters have caught up, not at a quarter epoch.
- **Rungs judged within a kind** (``kind_key``): configs that train on augmented digits start
  far lower and end higher than those that do not (in the table, 0.38 against 0.86 at a
  quarter epoch, and the best at the horizon); a rung ranks each kind against its own.

``--scheduler ray-asha`` is Ray's ``AsyncHyperBandScheduler`` as it is, kept as the baseline;
``--scheduler fifo`` runs every trial to the horizon.
"""

import math
from dataclasses import dataclass, field

import numpy as np
from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler, TrialScheduler

from sweeps.sweep.origin import ORIGIN, PRESET

EPS = 1e-9
# Where the user's presets go: the most patient bracket, dealt like any config, or run to the horizon.
PRESETS_PATIENT, PRESETS_DEALT, PRESETS_FULL = "patient", "dealt", "full"


def milestones(grace_period, reduction_factor, max_t, brackets):
    """Each bracket's decision points below ``max_t``, as Ray's ASHA computes them."""
    return [
        [grace_period * reduction_factor ** (k + s) for k in range(_rungs(grace_period, reduction_factor, max_t, s))]
        for s in range(brackets)
    ]


def _rungs(grace_period, reduction_factor, max_t, s):
    # Ray's bracket: int(log(max_t / min_t) / log(rf) - s + 1) rungs; rounded first so that
    # 0.25 * 4**3 == 16 counts as a rung however the logarithms round.
    return max(0, int(round(math.log(max_t / grace_period) / math.log(reduction_factor), 9) - s + 1))


def fractional_reports(grace_period, reduction_factor, max_t, brackets):
    """The decision points that are not epoch ends: the trainable reports there too."""
    points = {m for bracket in milestones(grace_period, reduction_factor, max_t, brackets) for m in bracket}
    return sorted(m for m in points if m < max_t and m != int(m))


def bracket_weights(sizes):
    """Ray's AsyncHyperBandScheduler draws bracket s with weight e**(rungs_s - most rungs)."""
    sizes = np.asarray(sizes, dtype=float)
    weights = np.e ** (sizes - sizes.max())
    return weights / weights.sum()


@dataclass
class RungResults:
    """One kind's results at one rung: values are signed so that higher is better."""

    results: dict = field(default_factory=dict)  # trial -> value at arrival
    promoted: dict = field(default_factory=dict)  # trial -> value, those sent on from here
    seeded: int = 0  # earlier runs' results (an extension): they raise the cutoff, take no promotion


class Bracket:
    """One bracket's rungs, each keeping its promotion quota per kind."""

    def __init__(self, rung_milestones, reduction_factor):
        self.milestones = sorted(rung_milestones, reverse=True)  # the highest rung reached decides
        self.rf = reduction_factor
        self._rungs = {m: {} for m in self.milestones}  # milestone -> kind -> RungResults
        self._in_flight = {}  # trial -> (milestone, kind) it went on from, until its next rung
        self.preempted = set()

    def rung(self, milestone, kind):
        return self._rungs[milestone].setdefault(kind, RungResults())

    def cutoff(self, results):
        """Ray's cutoff: the (1 - 1/rf) quantile of what the rung holds."""
        return np.nanpercentile(list(results.values()), (1 - 1 / self.rf) * 100) if results else None

    def seed(self, trial_id, milestone, kind, value):
        """An earlier run's result at a rung."""
        rung = self.rung(milestone, kind)
        if trial_id not in rung.results:
            rung.results[trial_id] = value
            rung.seeded += 1

    def on_result(self, trial_id, kind, reached, value):
        for milestone in self.milestones:
            if reached < milestone - EPS:
                continue
            rung = self.rung(milestone, kind)
            if trial_id in rung.results:
                return TrialScheduler.CONTINUE  # decided when it arrived here
            return self._arrive(trial_id, milestone, kind, rung, value)
        return TrialScheduler.CONTINUE

    def _arrive(self, trial_id, milestone, kind, rung, value):
        self._in_flight.pop(trial_id, None)  # it reached its next rung: that promotion stands
        if value is None or value != value:  # no metric, or NaN: nothing to rank
            return TrialScheduler.STOP
        cutoff = self.cutoff(rung.results)
        rung.results[trial_id] = value
        if cutoff is not None and value < cutoff:
            return TrialScheduler.STOP
        if len(rung.promoted) >= math.ceil((len(rung.results) - rung.seeded) / self.rf):
            weaker = [t for t in rung.promoted if self._in_flight.get(t) == (milestone, kind) and rung.promoted[t] < value]
            if not weaker:
                return TrialScheduler.STOP
            displaced = min(weaker, key=rung.promoted.get)
            del rung.promoted[displaced], self._in_flight[displaced]
            self.preempted.add(displaced)
        rung.promoted[trial_id] = value
        self._in_flight[trial_id] = (milestone, kind)
        return TrialScheduler.CONTINUE

    def record_end(self, trial_id, kind, reached, value):
        """A trial ended (stopped, finished, failed): keep its result, decide nothing."""
        self._in_flight.pop(trial_id, None)
        for milestone in self.milestones:
            rung = self.rung(milestone, kind)
            if reached >= milestone - EPS and trial_id not in rung.results and value is not None:
                rung.results[trial_id] = value
                return


class PatientASHA(FIFOScheduler):
    """ASHA over Hyperband brackets through Tune's public scheduler hooks: a promotion quota per
    rung, the user's presets in the most patient bracket, rungs judged within a kind."""

    def __init__(self, *, time_attr="training_iteration", max_t=100, grace_period=1, reduction_factor=4, brackets=1,
                 metric=None, mode=None, stop_last_trials=True, presets=PRESETS_PATIENT, kind_key=None, history=()):
        super().__init__()
        self._time_attr, self._max_t = time_attr, max_t
        self._metric, self._mode = metric, mode
        self._presets, self._kind_key = presets, kind_key
        self._stop_last_trials = stop_last_trials  # as Ray's ASHA: False lets a trial run past max_t
        self._history = list(history)  # an extension's earlier trials, put in at the rungs
        per_bracket = milestones(grace_period, reduction_factor, max_t, brackets)
        self._brackets = [Bracket(m, reduction_factor) for m in per_bracket]
        self._weights = bracket_weights([len(m) for m in per_bracket])
        self._credit = np.zeros(len(self._brackets))
        self._trials = {}  # trial id -> (bracket, kind)
        self._unjudged = set()  # presets run to the horizon (presets="full")
        self.stopped_early = 0

    @property
    def _sign(self):
        return 1.0 if self._mode == "max" else -1.0

    def set_search_properties(self, metric, mode, **spec):
        if (self._metric and metric) or (self._mode and mode):
            return False  # set already: Tune's own convention for a scheduler given its metric
        self._metric, self._mode = self._metric or metric, self._mode or mode
        if self._history and self._mode:  # the metric's sign is known only now
            from sweeps.sweep.warm_start import seed_bracket

            for bracket in self._brackets:
                seed_bracket(bracket, self._history, self._sign, self.kind_of)
            self._history = []
        return True

    def kind_of(self, config):
        """The kind a rung ranks ``config`` within: the value of ``kind_key``, or the values of each
        key when it is a tuple (``(ORIGIN, "augment")``: presets against presets, proposals against
        proposals, each split by augmentation)."""
        if self._kind_key is None:
            return None
        keys = (self._kind_key,) if isinstance(self._kind_key, str) else self._kind_key
        # By origin, the user's presets stand apart; the search's random and model proposals are one kind.
        kind = tuple(config.get(key) == PRESET if key == ORIGIN else config.get(key) for key in keys)
        return kind[0] if isinstance(self._kind_key, str) else kind

    def bracket_for(self, config):
        """The bracket a new trial goes to: presets to the most patient one, when so set; the
        rest dealt in a fixed interleave with Ray's proportions."""
        if self._presets == PRESETS_PATIENT and config.get(ORIGIN) == PRESET:
            return len(self._brackets) - 1
        self._credit += self._weights
        index = int(np.argmax(self._credit))
        self._credit[index] -= 1.0
        return index

    def on_trial_add(self, tune_controller, trial):
        if self._metric is None or self._mode is None:
            raise ValueError("PatientASHA needs a metric and a mode (TuneConfig's, or its own)")
        config = getattr(trial, "config", None) or {}
        self._trials[trial.trial_id] = (self._brackets[self.bracket_for(config)], self.kind_of(config))
        if self._presets == PRESETS_FULL and config.get(ORIGIN) == PRESET:
            self._unjudged.add(trial.trial_id)

    def on_trial_result(self, tune_controller, trial, result):
        if trial.trial_id not in self._trials or self._time_attr not in result or self._metric not in result:
            return TrialScheduler.CONTINUE
        bracket, kind = self._trials[trial.trial_id]
        if trial.trial_id in bracket.preempted:
            bracket.preempted.discard(trial.trial_id)
            self.stopped_early += 1
            return TrialScheduler.STOP  # a better trial took its place at the rung it last passed
        if result[self._time_attr] >= self._max_t - EPS:
            return TrialScheduler.STOP if self._stop_last_trials else TrialScheduler.CONTINUE  # the horizon
        if trial.trial_id in self._unjudged:
            return TrialScheduler.CONTINUE
        action = bracket.on_result(trial.trial_id, kind, result[self._time_attr], self._sign * result[self._metric])
        self.stopped_early += action == TrialScheduler.STOP
        return action

    def on_trial_complete(self, tune_controller, trial, result):
        entry = self._trials.pop(trial.trial_id, None)
        if entry is not None and self._time_attr in result and self._metric in result:
            bracket, kind = entry
            bracket.record_end(trial.trial_id, kind, result[self._time_attr], self._sign * result[self._metric])

    def on_trial_remove(self, tune_controller, trial):
        entry = self._trials.pop(trial.trial_id, None)
        if entry is not None:
            entry[0].record_end(trial.trial_id, entry[1], 0, None)

    def on_trial_error(self, tune_controller, trial):
        self.on_trial_remove(tune_controller, trial)

    def bracket_of(self, trial_id):
        entry = self._trials.get(trial_id)
        return None if entry is None else self._brackets.index(entry[0])

    def debug_string(self):
        return f"PatientASHA: {len(self._brackets)} brackets, {self.stopped_early} trials stopped early"


def make_scheduler(kind, *, time_attr, max_t, grace_period, reduction_factor, brackets, history=(), **rules):
    """``--scheduler`` kind: asha (``PatientASHA``; ``rules``: presets, kind_key), fifo, or ray-asha."""
    if kind == "fifo":
        return FIFOScheduler()
    if kind == "ray-asha":  # the earlier design: Ray's brackets, drawn at random, no quota
        return AsyncHyperBandScheduler(time_attr=time_attr, max_t=max_t, grace_period=grace_period,
                                       reduction_factor=reduction_factor, brackets=brackets)
    return PatientASHA(time_attr=time_attr, max_t=max_t, grace_period=grace_period,
                       reduction_factor=reduction_factor, brackets=brackets, history=history, **rules)
