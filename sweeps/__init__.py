"""Sweeps: the commands users type (``cnn_search.py``, ``predict.py``, ``leaderboard.py``, ...), thin,
and the packages that do the work, in layers; a layer imports only those below it
(``tests/test_layers.py`` checks):

- ``sweeps.sweep``: one sweep (definition, flags and Tuner assembly, runtime start-up, searcher,
  scheduler, warm start, experiment storage, console);
- ``sweeps.results``: what a sweep leaves (leaderboard table, report and plots, live report, MLflow);
- ``sweeps.ensembles``: models from the sweep (library selection, refit, retrain, outputs, predict);
- ``sweeps.pipeline``: the whole job of a family's command, every stage in order.

Below them all: ``trainables`` (data, builders, trainables) and ``search_spaces``.
"""
