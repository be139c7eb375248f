"""Combining ensemble members' softmax outputs: averaging and greedy selection.

Greedy ensemble selection with replacement (Caruana et al., 2004): start
empty, add at each round the member that most improves the ensemble's
accuracy on a held-out split (log loss breaks ties), allow repeats, and keep
the best prefix seen. It may pick fewer members than it was given, or the same
one twice.

Bagged selection (Caruana et al., 2004, section 4) guards it against
overfitting a small holdout: greedy selection runs on many random halves of
the holdout, and a member's weight is how often it was picked over all of
them. A member that only fits a few lucky holdout digits wins in few bags.
"""

import numpy as np
from sklearn import metrics

EPSILON = 1e-12
# Test-time augmentation: the image itself, then 1-pixel shifts (no flips or rotations: a flipped
# 2 is no digit). MNIST digits sit inside a 4-pixel black margin, so a shift loses no ink.
SHIFTS = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, -1), (1, -1), (-1, 1)]


def shifted(images, dy, dx):
    """``images`` (n, 28, 28, 1) moved ``dy`` rows down and ``dx`` columns right, margin-filled."""
    out = np.zeros_like(images)
    height, width = images.shape[1:3]
    out[:, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        images[:, max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def views_flag(value):
    """argparse type for ``--tta``: how many views each prediction averages."""
    import argparse

    views = int(value)
    if not 1 <= views <= len(SHIFTS):
        raise argparse.ArgumentTypeError(f"must be 1 (no test-time augmentation) to {len(SHIFTS)}, got {value}")
    return views


def threshold_flag(value):
    """argparse type for ``--pseudo-label``: the least probability the library ensemble must give."""
    import argparse

    try:
        threshold = float(value)
    except ValueError:
        threshold = float("nan")
    if not 0.5 <= threshold <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability from 0.5 to 1, got {value}")
    return threshold


def predict_views(model, images, views=1, batch_size=512):
    """The mean of ``model``'s probabilities over the first ``views`` of SHIFTS (1: the images alone)."""
    if not 1 <= views <= len(SHIFTS):
        raise ValueError(f"views must be 1 to {len(SHIFTS)}, got {views}")
    total = None
    for dy, dx in SHIFTS[:views]:
        batch = images if (dy, dx) == (0, 0) else shifted(images, dy, dx)
        probabilities = np.asarray(model.predict(batch, batch_size=batch_size, verbose=0), dtype=np.float64)
        total = probabilities if total is None else total + probabilities
    return total / views


def accuracy(probabilities, labels):
    return float(metrics.accuracy_score(labels, np.argmax(probabilities, axis=1)))


def log_loss(probabilities, labels):
    return float(metrics.log_loss(labels, probabilities, labels=np.arange(np.shape(probabilities)[1])))


def average(member_probabilities, weights=None):
    """Weighted mean of members' (n, classes) probabilities; member_probabilities is (k, n, classes)."""
    stacked = np.asarray(member_probabilities, dtype=np.float64)
    weights = np.ones(len(stacked)) if weights is None else np.asarray(weights, dtype=np.float64)
    return np.tensordot(weights / weights.sum(), stacked, axes=1)


def greedy_selection(member_probabilities, labels, rounds=None):
    """Caruana's selection with replacement; returns per-member counts and the holdout curve."""
    stacked = np.asarray(member_probabilities, dtype=np.float64)
    members = len(stacked)
    rounds = rounds or 2 * members
    counts = np.zeros(members, dtype=int)
    total = np.zeros_like(stacked[0])
    history, best = [], (-1.0, 0.0, None)
    for step in range(1, rounds + 1):
        correct, loss = _with_each_member(total, stacked, step, labels)
        # Most accurate; log loss breaks ties, then the lower index.
        choice = int(np.lexsort((np.arange(members), loss, -correct))[0])
        total += stacked[choice]
        counts[choice] += 1
        score = (float(correct[choice]), -float(loss[choice]))
        history.append({"round": step, "member": choice, "accuracy": score[0], "log_loss": -score[1]})
        if score > best[:2]:
            best = (*score, counts.copy())
    return best[2], history


def _with_each_member(total, stacked, step, labels):
    """Accuracy and log loss of the running ensemble with each member added, all members at once:
    selection's inner loop (members x rounds x bags), where one scikit-learn call per candidate
    would cost more than the whole selection."""
    candidates = (total[None] + stacked) / step
    correct = (candidates.argmax(axis=2) == labels).mean(axis=1)
    picked = candidates[:, np.arange(len(labels)), labels]
    return correct, -np.log(np.clip(picked, EPSILON, 1.0)).mean(axis=1)


def bagged_selection(member_probabilities, labels, bags=20, fraction=0.5, seed=0, rounds=None):
    """Greedy selection on ``bags`` random ``fraction`` subsets of the holdout; summed counts."""
    stacked = np.asarray(member_probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    size = max(1, int(round(fraction * len(labels))))
    counts = np.zeros(len(stacked), dtype=int)
    for _ in range(bags):
        rows = rng.choice(len(labels), size=size, replace=False)
        bag_counts, _ = greedy_selection(stacked[:, rows], labels[rows], rounds)
        counts += bag_counts
    return counts


def accuracy_by_size(member_probabilities, labels):
    """Accuracy of the average of the first k members, for k = 1..len(members)."""
    stacked = np.asarray(member_probabilities, dtype=np.float64)
    running = np.cumsum(stacked, axis=0)
    return [accuracy(running[k - 1] / k, labels) for k in range(1, len(stacked) + 1)]


def per_class_errors(probabilities, labels, classes=10):
    """Misclassified digits of each true class."""
    confusion = metrics.confusion_matrix(labels, np.argmax(probabilities, axis=1), labels=np.arange(classes))
    return (confusion.sum(axis=1) - np.diag(confusion)).tolist()
