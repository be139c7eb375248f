"""Pseudo-labels: the digits of ``--test`` that the library ensemble labels with confidence join
the refit's training data (``--pseudo-label P``; off by default: at 0.9 it showed no gain at equal time, bench/RESULTS.md section 14).

Only ``--test``'s unlabelled digits are offered. A digit that is pixel for pixel one of the split's
labelled validation or test digits is never taken: validation chose the ensemble and test scores
it. The report gives the counts the refit used (offered, excluded as labelled, taken, per class).
"""

import dataclasses
import hashlib
import io
import json
import time

import numpy as np

from trainables.errors import UserError


def _digests(images):
    return [hashlib.sha1(np.ascontiguousarray(image).tobytes()).digest() for image in images]


def digits_fingerprint(images):
    """Which digits, in which order: the library's saved probabilities serve only the same ones."""
    images = np.ascontiguousarray(images)
    return hashlib.sha256(repr(images.shape).encode() + images.tobytes()).hexdigest()[:16]


def library_probabilities(library_dir, extra, tta, report=None):
    """The library ensemble's probabilities for ``extra``: those it saved beside its submission when
    they are of these digits with these views, else predicted now. ``report``: the library's
    report.json, when the caller holds it already."""
    from sweeps.ensembles import outputs, predict
    from sweeps.sweep import experiment

    saved = experiment.child(library_dir, outputs.PROBABILITIES)
    if report is None:
        report = json.loads(experiment.read_text(experiment.child(library_dir, "report.json")))
    if (report.get("test_digits") == digits_fingerprint(extra) and report.get("tta", 1) == tta
            and experiment.exists(saved)):
        return np.load(io.BytesIO(experiment.read_bytes(saved))), "saved"
    return predict.predict(predict.members(library_dir)[0], extra, tta=tta), "predicted"


def labelled_elsewhere(images, data):
    """Mask of ``images`` that are one of ``data``'s labelled validation or test digits."""
    labelled = set(_digests(data.x_val)) | set(_digests(data.x_test))
    return np.array([digest in labelled for digest in _digests(images)], bool)


def choose(probabilities, threshold, excluded):
    """(indices, labels) of the digits whose top probability is at least ``threshold``."""
    confident = (probabilities.max(axis=1) >= threshold) & ~excluded
    indices = np.flatnonzero(confident)
    return indices, probabilities[indices].argmax(axis=1)


def with_pseudo_labels(data, images, labels):
    """``data`` with ``images`` (labelled ``labels``) added to its training split, nothing else changed."""
    return dataclasses.replace(data, x_train=np.concatenate([data.x_train, images.astype(data.x_train.dtype)]),
                               y_train=np.concatenate([data.y_train, labels.astype(data.y_train.dtype)]))


def label(library_dir, data, extra, threshold, tta=1, library_report=None):
    """(data with the pseudo-labelled digits in its training split, the report's counts)."""
    if extra is None:
        raise UserError("--pseudo-label needs --test: its digits are the ones labelled")
    started = time.perf_counter()
    probabilities, source = library_probabilities(library_dir, extra, tta, library_report)
    excluded = labelled_elsewhere(extra, data)
    indices, labels = choose(probabilities, threshold, excluded)
    report = {"threshold": threshold, "offered": int(len(extra)), "excluded_as_labelled": int(excluded.sum()),
              "used": int(len(indices)), "per_class": np.bincount(labels, minlength=10).tolist(),
              "labelled_by": "library ensemble", "probabilities": source, "seconds": round(time.perf_counter() - started, 1)}
    print(f"pseudo-labels: {report['used']} of {report['offered']} --test digits at p >= {threshold:g} join the "
          f"refit's training digits ({report['excluded_as_labelled']} left out as labelled digits of the split)",
          flush=True)
    return with_pseudo_labels(data, extra[indices], labels), report
