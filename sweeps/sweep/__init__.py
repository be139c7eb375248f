"""One sweep: its definition per family, the flags and Tuner assembly, Ray's start-up, the searcher
and scheduler, the warm start of an extension, experiment storage and the console.

May import: ``trainables``, ``search_spaces``, Ray, Optuna. Never ``sweeps.results``,
``sweeps.ensembles`` or ``sweeps.pipeline``.
"""
