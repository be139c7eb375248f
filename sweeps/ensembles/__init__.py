"""Models from a sweep: the library ensemble (selection over trial checkpoints), the refit of its
chosen configs (pseudo-labels from --test included), the retrained top-k ensemble, their outputs
and submission, and predict.

May import: ``sweeps.results``, ``sweeps.sweep``, ``trainables``, ``search_spaces``. Never
``sweeps.pipeline``.
"""
