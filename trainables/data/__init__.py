"""The digits: the embedded 5,000 MNIST digits or Kaggle's CSVs (``kaggle_csv``: reading, checking,
the Parquet cache, writing), split into train, validation and test (``loading``).

May import: ``trainables.errors``. Nothing of ``sweeps``.
"""
