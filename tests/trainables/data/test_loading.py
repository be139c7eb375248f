import numpy as np
import pytest

from trainables.data.loading import load_data
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
