"""The one place that reaches into Ray's private members, where no public route exists.

Written against ray 2.60 (``pyproject.toml`` pins ``ray>=2.60,<2.61``) and hyperopt 0.2.7;
``tests/trainables/test_ray_adapter.py`` fails when one of these assumptions breaks, so an upgrade
says where. Everything else in the project extends Ray and Optuna through their public hooks.

- Ray logs "Checkpoint successfully created" for every epoch of every trial from its private
  storage module: its logger's name is the only handle.
- HyperOpt's searcher keeps its queue of points to evaluate and its trials history privately;
  the ``origin`` tag of the HyperOpt baseline reads them.
- Tune's MLflow callback keeps its trial -> run map privately, and a trial's best checkpoint
  is reachable only through its private run metadata.
"""

RAY_VERSIONS = ("2.60",)
CHECKPOINT_LOGGER = "ray.train._internal.storage"


def quiet_checkpoint_logs():
    import logging

    logging.getLogger(CHECKPOINT_LOGGER).setLevel(logging.WARNING)


def tagged_hyperopt_search(preset, random, model, startup, **kwargs):
    """Ray's HyperOptSearch whose configs carry ``origin``: ``preset`` while its points to evaluate
    last, ``random`` until ``startup`` trials finished, then ``model``."""
    from ray.tune.search.hyperopt import HyperOptSearch

    class TaggedHyperOptSearch(HyperOptSearch):
        def next_origin(self):
            if self._points_to_evaluate > 0:
                return preset
            finished = sum(1 for t in self._hpopt_trials.trials if t["result"].get("status") == "ok")
            return model if finished >= startup else random

        def suggest(self, trial_id):
            origin = self.next_origin()
            config = super().suggest(trial_id)
            return {**config, "origin": origin} if isinstance(config, dict) else config

    return TaggedHyperOptSearch(**kwargs)


def best_checkpoint_result(trial):
    """The trial's best checkpoint and its metrics (Tune keeps them sorted by score), or None."""
    return trial.run_metadata.checkpoint_manager.best_checkpoint_result


def mlflow_run_id(callback, trial):
    """The MLflow run Ray's ``MLflowLoggerCallback`` opened for ``trial``, or None."""
    return callback._trial_runs.get(trial)
