"""What a sweep leaves for people to read: the leaderboard table and its exports, the HTML report
and its plots, the live report redrawn during a sweep, MLflow tracking.

May import: ``sweeps.sweep``, ``trainables``, ``search_spaces``. Never ``sweeps.ensembles`` or
``sweeps.pipeline``.
"""
