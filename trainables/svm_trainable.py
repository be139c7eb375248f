"""The SVM family: the pure pipeline builder and its Ray Tune trainable, one report per rung.

An SVC has no epochs, and its fit costs grow faster than linearly in the
training set. So the trainable gives ASHA a fidelity in data instead: rung r
of R fits the pipeline afresh on the first 2**(r - R) of a stratified ordering
of the training set (1/8, 1/4, 1/2, all for R = 4) and reports validation
accuracy. Poor (gamma, C) pairs are stopped after the cheap rungs; only the
survivors pay for the full fit. Each rung checkpoints the fitted pipeline and
``trial_state.json`` (rung, seed, config), as the Keras trainable does per epoch.

Nothing here imports TensorFlow, so SVM trials start in a second or two.
"""

import json
import math
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
from ray import tune
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC

from search_spaces.svm import NO_PCA

MODEL_FILE = "model.joblib"
STATE_FILE = "trial_state.json"
PIXELS = 28 * 28


def scale_pixels(images):
    """(N, 28, 28, 1) 0..255 images -> (N, 784) floats in 0..1, as the Keras models rescale."""
    return np.asarray(images, dtype=np.float64).reshape(len(images), -1) / 255.0


def build_svm(config, seed=0, max_samples=None):
    """The pipeline ``config`` (a search_spaces.svm config) describes: pixels/255, PCA, RBF SVC.

    PCA cannot keep more components than it has samples, so a fit on fewer
    than ``pca_components`` digits (``max_samples``) keeps that many instead.
    """
    steps = [("scale", FunctionTransformer(scale_pixels))]
    components = config["pca_components"]
    if components != NO_PCA:
        components = min(components, max_samples or PIXELS, PIXELS)
        steps.append(("pca", PCA(components, random_state=seed)))
    gamma = "scale" if config["gamma_mode"] == "scale" else config["gamma"]
    steps.append(("svc", SVC(kernel="rbf", C=config["C"], gamma=gamma)))
    return Pipeline(steps)


def stratified_order(labels, seed):
    """A shuffled order of the indices whose every prefix holds each class in proportion.

    Every rung's subset is a prefix, so subsets grow (each contains the last),
    and every trial of a sweep sees the same subsets: rungs compare configs,
    not samples.
    """
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels))
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        keys[members] = (np.arange(len(members)) + rng.random()) / len(members)
    return np.argsort(keys, kind="stable")


def rung_fraction(rung, rungs):
    """Share of the training set that rung ``rung`` (1-based) of ``rungs`` fits on; the last is 1."""
    return 2.0 ** (rung - rungs)


def load_checkpoint(checkpoint_dir):
    """(fitted pipeline, trial state) from a checkpoint directory this trainable wrote."""
    checkpoint_dir = Path(checkpoint_dir)
    state = json.loads((checkpoint_dir / STATE_FILE).read_text())
    return joblib.load(checkpoint_dir / MODEL_FILE), state


def _completed_rungs():
    """Rungs a retried trial already reported; each rung refits from scratch, so no model is needed."""
    checkpoint = tune.get_checkpoint()
    if not checkpoint:
        return 0
    with checkpoint.as_directory() as directory:
        return json.loads(Path(directory, STATE_FILE).read_text())["rung"]


def _fit_rung(config, data, chosen, seed):
    pipeline = build_svm(config, seed=seed, max_samples=len(chosen))
    started = time.perf_counter()
    pipeline.fit(data.x_train[chosen], data.y_train[chosen])
    fit_time = time.perf_counter() - started
    metrics = {
        "val_accuracy": float(pipeline.score(data.x_val, data.y_val)),
        "train_examples": len(chosen),
        "fit_time_s": fit_time,
        "support_vectors": int(pipeline.named_steps["svc"].n_support_.sum()),
    }
    return pipeline, metrics


def _report(metrics, pipeline, state):
    with tempfile.TemporaryDirectory() as directory:
        joblib.dump(pipeline, Path(directory, MODEL_FILE))
        Path(directory, STATE_FILE).write_text(json.dumps(state, indent=2, default=str))
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))


def run_rungs(config, data, rungs, first, last, base_seed=0):
    """Fit, report and checkpoint rungs ``first``..``last`` (1-based) of ``rungs``."""
    order = stratified_order(data.y_train, base_seed)
    for rung in range(first, last + 1):
        fraction = rung_fraction(rung, rungs)
        chosen = order[: math.ceil(fraction * len(order))]
        pipeline, metrics = _fit_rung(config, data, chosen, base_seed)
        metrics.update(rung=rung, train_fraction=fraction)
        _report(metrics, pipeline, {"rung": rung, "seed": base_seed, "config": config})


def train_svm(config, data, max_epochs, base_seed=0):
    """Tune function trainable: rungs 1..``max_epochs``, each a fit on a larger stratified share.

    The seed is the sweep's, not the trial's: all trials fit on the same subsets.
    A retried trial carries on after the last rung it checkpointed.
    """
    run_rungs(config, data, max_epochs, _completed_rungs() + 1, max_epochs, base_seed)
