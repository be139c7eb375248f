"""--mlflow: every trial an MLflow run, through Ray Tune's own MLflow callback.

Ray's ``MLflowLoggerCallback`` logs a trial's config as params and every
report as metrics; with ``save_artifact`` it also copies the trial's local
directory (result.json, progress.csv, TensorBoard events). The checkpoints live
in the experiment's storage, not there, so at each trial's end its best
checkpoint (by the sweep's metric) is logged as the run's ``best_checkpoint``
artifact too. MLflow is an optional extra (``pip install -e ".[mlflow]"``).
"""

import os
from pathlib import Path

from ray.air.integrations.mlflow import MLflowLoggerCallback

from sweeps.sweep import experiment
from trainables.ray_adapter import best_checkpoint_result, mlflow_run_id
from sweeps.sweep.flags import MLFLOW_BESIDE




class MLflowWithBestCheckpoint(MLflowLoggerCallback):
    def log_trial_end(self, trial, failed=False):
        from mlflow.tracking import MlflowClient

        best, run_id = best_checkpoint_result(trial), mlflow_run_id(self, trial)
        if best is not None and run_id is not None:
            with best.checkpoint.as_directory() as directory:
                MlflowClient(tracking_uri=self.tracking_uri).log_artifacts(
                    run_id, directory, artifact_path="best_checkpoint")
        super().log_trial_end(trial, failed)


def tracking_uri(args):
    if args.mlflow != MLFLOW_BESIDE:
        return args.mlflow
    path = experiment.join(args.storage, args.name)
    return "file:" + str((Path("mlruns") if experiment.is_uri(path) else Path(path) / "mlruns").resolve())


def mlflow_logger(definition, args):
    """The callbacks for --mlflow: none without it."""
    if not args.mlflow:
        return []
    uri = tracking_uri(args)
    if uri.startswith("file:"):  # MLflow 3 refuses its file store unless asked for it by name
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return [MLflowWithBestCheckpoint(tracking_uri=uri, experiment_name=args.name, save_artifact=True,
                                     tags={"family": definition.family})]
