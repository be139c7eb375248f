"""The searcher that proposes configs.

Searcher (``--search tpe``, the default): Optuna's TPE, asked and told through
Tune's public ``Searcher`` API (``OptunaAskTell``), seeded with the notes' presets. It starts modelling after
the startup has a result (``startup_trials``: the presets and at least 3 random
configs), not after a fixed 20 finished trials. It learns from rung results:
a trial the scheduler stopped early is told to Optuna as *pruned* at the last
rung it reported, and TPE ranks pruned trials by the rung they reached, then
by their value there (Optuna's ``_get_pruned_trial_score``), so a quarter-epoch
result is compared with quarter-epoch results, as BOHB compares within a budget.
``--search random`` draws from the same space with Optuna's random sampler;
``--search hyperopt`` is the earlier design (random until 20 trials finished),
kept as the benchmark's baseline.

Every proposed config carries ``origin``: ``preset``, ``random`` or ``model``
(the one key of a config that is not a hyperparameter; the builders ignore it).
"""

import pickle
import warnings

from ray.tune.search import Searcher

from sweeps.sweep.origin import MODEL, ORIGIN, PRESET, RANDOM

HYPEROPT_STARTUP = 20  # HyperOptSearch's default n_initial_points: the baseline design


def startup_trials(num_samples, presets):
    """Results before the model proposes: 5% of the trials (3 to 10), the presets counted among
    them (they are results the model learns from), and at least 3 drawn at random beyond them.
    With the CNN's 9 presets that is 12, not 19: in a 20-minute run on 2 cores, 26 trials, the
    model had started only 4 (a budgeted sweep's num_samples is a cap, not what it will run)."""
    return presets + max(3, min(10, max(3, round(0.05 * num_samples))) - presets)


class OptunaAskTell(Searcher):
    """Optuna's ask/tell behind Tune's public ``Searcher`` API: the presets enqueued and asked
    first, every report told as an intermediate value, a trial stopped before the horizon told as
    pruned, and each proposed config tagged with its ``origin``."""

    def __init__(self, *, sampler, presets=(), time_attr, max_t, n_startup, model=True, history=(),
                 metric=None, mode=None):
        super().__init__(metric=metric, mode=mode)
        self._sampler, self._presets = sampler, list(presets)
        self._time_attr, self._max_t = time_attr, max_t
        self._n_startup, self._model = n_startup, model
        self._history = list(history)  # earlier trials of an extended experiment (sweeps/sweep/extend.py)
        self._study, self._distributions, self._trials = None, None, {}
        self.warm_started = 0

    def set_search_properties(self, metric, mode, config, **spec):
        if self._distributions is not None:
            return False
        from ray.tune.search.optuna import OptunaSearch

        self._metric, self._mode = self._metric or metric, self._mode or mode
        # Ray's public converter: Tune domains (choice, loguniform, quniform) to Optuna's distributions.
        self._distributions = OptunaSearch.convert_search_space(config)
        self._setup()
        return True

    @property
    def study(self):
        """The Optuna study: every trial asked, told, warm-started or enqueued."""
        return self._study

    def _setup(self):
        import optuna

        self._study = optuna.create_study(sampler=self._sampler, direction="maximize" if self._mode == "max" else "minimize")
        for preset in self._presets:
            self._study.enqueue_trial({key: value for key, value in preset.items() if key in self._distributions})
        if self._history:
            from sweeps.sweep.warm_start import add_to_study

            self.warm_started = add_to_study(self._study, self._distributions, self._history, self._max_t)
            self._history = []

    def next_origin(self):
        from optuna.trial import TrialState

        if self._study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            return PRESET  # enqueued presets are asked first
        finished = self._study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        return MODEL if self._model and len(finished) >= self._n_startup else RANDOM

    def suggest(self, trial_id):
        if self._distributions is None:
            raise RuntimeError("OptunaAskTell has no search space: Tune gives it through set_search_properties")
        origin = self.next_origin()
        trial = self._study.ask(self._distributions)
        self._trials[trial_id] = trial
        return {**trial.params, ORIGIN: origin}

    def on_trial_result(self, trial_id, result):
        trial = self._trials.get(trial_id)
        value = result.get(self._metric)
        if trial is not None and value is not None and value == value:
            trial.report(value, result.get("training_iteration", len(trial.study.trials)))

    def on_trial_complete(self, trial_id, result=None, error=False):
        from optuna.trial import TrialState

        trial = self._trials.pop(trial_id, None)
        if trial is None:
            return
        result = result or {}
        value, reached = result.get(self._metric), result.get(self._time_attr)
        try:
            if error or value is None or value != value:
                self._study.tell(trial, state=TrialState.FAIL)
            elif reached is not None and reached < self._max_t - 1e-9:
                # Stopped before the horizon: Optuna scores a pruned trial by its last reported step
                # and the value there, so it is compared with trials that reached the same rung.
                self._study.tell(trial, state=TrialState.PRUNED)
            else:
                self._study.tell(trial, value)
        except Exception as exc:  # noqa: BLE001 - a bad tell must not stop the sweep
            warnings.warn(f"optuna: {exc}")

    def save(self, checkpoint_path):
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.__dict__, file)

    def restore(self, checkpoint_path):
        with open(checkpoint_path, "rb") as file:
            self.__dict__.update(pickle.load(file))


def make_searcher(kind, *, presets, num_samples, seed, time_attr, max_t, history=()):
    """The searcher for ``--search kind`` (tpe, random or hyperopt); ``history``: earlier trials
    of the experiment (``sweeps.sweep.warm_start.PastTrial``) that an Optuna study starts from."""
    if kind == "hyperopt":
        return TaggedHyperOptSearch(points_to_evaluate=presets or None, random_state_seed=seed)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one INFO line per told trial otherwise
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    n_startup = startup_trials(num_samples, len(presets))
    if kind == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        # multivariate: the axes interact (filters with downsampling, learning rate with optimizer);
        # constant_liar: concurrent trials do not all get the same proposal.
        sampler = optuna.samplers.TPESampler(
            n_startup_trials=n_startup, multivariate=True, constant_liar=True, seed=seed,
        )
    return OptunaAskTell(
        sampler=sampler, presets=presets, time_attr=time_attr, max_t=max_t,
        n_startup=n_startup, model=kind == "tpe", history=history,
    )


def TaggedHyperOptSearch(**kwargs):  # noqa: N802 - a class, imported lazily (hyperopt is slow to import)
    """HyperOptSearch with origin tags, the earlier design kept as the benchmark's baseline; it
    reads HyperOpt's own state, so it lives with Ray's other private members."""
    from trainables.ray_adapter import tagged_hyperopt_search

    return tagged_hyperopt_search(PRESET, RANDOM, MODEL, HYPEROPT_STARTUP, **kwargs)
