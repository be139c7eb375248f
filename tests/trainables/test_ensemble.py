"""Combining logic on fixed probability arrays with known answers."""

import numpy as np
import pytest

from trainables import ensemble as combine
from trainables.ensemble_member import member_training_set


def one_hot(labels, confidence=0.9, classes=3):
    out = np.full((len(labels), classes), (1 - confidence) / (classes - 1))
    out[np.arange(len(labels)), labels] = confidence
    return out


LABELS = np.array([0, 1, 2, 0])


def test_average_is_the_weighted_mean():
    a, b = one_hot([0, 0, 0, 0]), one_hot([1, 1, 1, 1])
    np.testing.assert_allclose(combine.average([a, b]), (a + b) / 2)
    np.testing.assert_allclose(combine.average([a, b], weights=[3, 1]), 0.75 * a + 0.25 * b)


def test_accuracy_log_loss_and_per_class_errors():
    probabilities = one_hot([0, 1, 1, 2])
    assert combine.accuracy(probabilities, LABELS) == 0.5
    assert combine.log_loss(one_hot([0, 1, 2, 0], confidence=1.0), LABELS) == pytest.approx(0.0, abs=1e-9)
    assert combine.log_loss(one_hot([0, 1, 2, 0], confidence=0.5), LABELS) == pytest.approx(-np.log(0.5))
    assert combine.per_class_errors(probabilities, LABELS, classes=3) == [1, 0, 1]


def test_greedy_selection_picks_the_complementary_members():
    # strong: right on samples 0-2, narrowly wrong on 3; fixer: sure and right on 3,
    # unsure and wrong elsewhere; useless: always wrong. strong + fixer is perfect.
    strong = np.array([[.6, .2, .2], [.2, .6, .2], [.2, .2, .6], [.45, .55, 0]])
    fixer = np.array([[.3, .4, .3], [.4, .3, .3], [.3, .4, .3], [.9, .05, .05]])
    useless = one_hot([1, 0, 0, 2], confidence=0.9)
    counts, history = combine.greedy_selection([useless, strong, fixer], LABELS, rounds=4)
    assert history[0]["member"] == 1 and history[0]["accuracy"] == 0.75
    assert history[1]["member"] == 2 and history[1]["accuracy"] == 1.0
    # The kept prefix is perfect, never uses the useless member, and (log loss breaking
    # the accuracy tie) repeats the strong member: selection is with replacement.
    assert counts[0] == 0 and counts[2] >= 1 and counts[1] >= 2
    assert combine.accuracy(combine.average([useless, strong, fixer], counts), LABELS) == 1.0
    assert len(history) == 4


def test_greedy_selection_keeps_the_best_prefix_when_adding_only_hurts():
    best = one_hot([0, 1, 2, 0])
    worse = one_hot([0, 1, 1, 1], confidence=0.95)
    counts, _ = combine.greedy_selection([worse, best], LABELS, rounds=3)
    assert counts.tolist() == [0, 1]  # the best prefix is the best member alone


def test_accuracy_by_size_averages_prefixes():
    members = [one_hot([0, 1, 2, 1], 0.6), one_hot([0, 2, 1, 0], 0.9), one_hot([0, 1, 2, 0], 0.9)]
    assert combine.accuracy_by_size(members, LABELS) == [0.75, 0.5, 1.0]


def test_member_training_sets(tiny_data):
    x, y, validation = member_training_set(tiny_data, "train+val", 0)
    assert len(y) == len(tiny_data.y_train) + len(tiny_data.y_val) and validation is None
    x1, y1, _ = member_training_set(tiny_data, "random-split", 1)
    x2, y2, _ = member_training_set(tiny_data, "random-split", 2)
    assert len(y1) == len(y2) == int(0.9 * len(tiny_data.y_train))
    assert not np.array_equal(x1, x2)
    with pytest.raises(ValueError, match="fit_on"):
        member_training_set(tiny_data, "everything", 0)


def test_bagged_selection_sums_greedy_counts_over_halves_and_is_seeded():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=60)
    members = [one_hot(np.where(rng.random(60) < p, labels, (labels + 1) % 3)) for p in (0.9, 0.7, 0.5)]
    counts = combine.bagged_selection(members, labels, bags=8, seed=3)
    assert counts.tolist() == combine.bagged_selection(members, labels, bags=8, seed=3).tolist()
    # Every bag keeps its best prefix, at least one member: at least one count per bag.
    assert counts.sum() >= 8 and counts[0] == counts.max()


def test_bagging_weighs_a_member_that_fixes_few_holdout_digits_less_than_greedy_does():
    # strong is right on all but digit 0; fixer is right on digit 0 only, sure of it, and
    # unsure elsewhere. Greedy on the whole holdout always adds the fixer; a bag without
    # digit 0 (half of them) never does.
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    strong = one_hot(labels, 0.6)
    strong[0] = [0.45, 0.55, 0.0]
    fixer = np.full((10, 3), 1 / 3)
    fixer[0] = [0.95, 0.05, 0.0]
    greedy, _ = combine.greedy_selection([strong, fixer], labels)
    bagged = combine.bagged_selection([strong, fixer], labels, bags=40, seed=0)
    assert greedy[1] >= 1
    assert bagged[1] / bagged.sum() < greedy[1] / greedy.sum()
    assert 0 < bagged[1] < 40  # picked in the bags that hold digit 0, not in the others


def test_fitting_on_all_takes_every_labelled_digit(tiny_data):
    x, y, validation = member_training_set(tiny_data, "all", 0)
    assert len(y) == sum(tiny_data.sizes().values()) and validation is None


class _PixelModel:
    """Probabilities that depend on where the ink is: a shifted view gives a different answer."""

    def __init__(self):
        self.seen = []

    def predict(self, images, batch_size=None, verbose=0):
        self.seen.append(images.copy())
        column = images[:, 14, :, 0].argmax(axis=1) % 10
        out = np.full((len(images), 10), 0.01)
        out[np.arange(len(images)), column] = 0.91
        return out


def test_tta_averages_exactly_the_views_it_names():
    images = np.zeros((3, 28, 28, 1), dtype=np.uint8)
    images[:, 14, 13] = 255
    model = _PixelModel()
    averaged = combine.predict_views(model, images, views=3)
    # The image itself, then one pixel right and one pixel left: columns 13, 14 and 12.
    assert [view[0, 14, :, 0].argmax() for view in model.seen] == [13, 14, 12]
    expected = np.mean([_PixelModel().predict(combine.shifted(images, dy, dx)) for dy, dx in combine.SHIFTS[:3]], axis=0)
    assert np.allclose(averaged, expected) and np.allclose(averaged.sum(axis=1), 1.0)
    assert np.array_equal(combine.predict_views(_PixelModel(), images, views=1), _PixelModel().predict(images))


def test_a_shift_moves_the_ink_and_fills_the_margin():
    images = np.arange(4 * 28 * 28).reshape(4, 28, 28, 1) % 251
    down = combine.shifted(images, 1, 0)
    assert np.array_equal(down[:, 1:], images[:, :-1]) and not down[:, 0].any()
    assert np.array_equal(combine.shifted(down, -1, 0)[:, :-1], images[:, :-1])
