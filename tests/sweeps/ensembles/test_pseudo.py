"""Pseudo-labels: which --test digits are taken, and never a labelled digit of the split."""

import numpy as np

from sweeps.ensembles.pseudo import choose, labelled_elsewhere, with_pseudo_labels


def test_only_confident_digits_not_excluded_are_taken_with_their_top_class():
    probabilities = np.array([[0.995, 0.005] + [0] * 8, [0.5, 0.5] + [0] * 8, [0.0, 0.999] + [0] * 8,
                              [0.0, 0.0, 1.0] + [0] * 7])
    excluded = np.array([False, False, False, True])
    indices, labels = choose(probabilities, 0.99, excluded)
    assert indices.tolist() == [0, 2] and labels.tolist() == [0, 1]
    assert choose(probabilities, 0.99, np.zeros(4, bool))[0].tolist() == [0, 2, 3]


def test_a_test_digit_that_is_a_labelled_validation_or_test_digit_is_excluded(tiny_data):
    fresh = tiny_data.x_train[:4]
    offered = np.concatenate([fresh, tiny_data.x_val[:3], tiny_data.x_test[:2]])
    assert labelled_elsewhere(offered, tiny_data).tolist() == [False] * 4 + [True] * 5


def test_pseudo_labelled_digits_join_the_training_split_only(tiny_data):
    images, labels = tiny_data.x_train[:5], np.array([1, 2, 3, 4, 5])
    grown = with_pseudo_labels(tiny_data, images, labels)
    assert len(grown.x_train) == len(tiny_data.x_train) + 5 and grown.y_train[-5:].tolist() == [1, 2, 3, 4, 5]
    assert grown.x_train.dtype == tiny_data.x_train.dtype and grown.y_train.dtype == tiny_data.y_train.dtype
    for split in ("x_val", "y_val", "x_test", "y_test"):
        assert getattr(grown, split) is getattr(tiny_data, split)
    assert grown.fingerprint == tiny_data.fingerprint
