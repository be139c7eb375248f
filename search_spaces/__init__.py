"""Search spaces: one module per model family, Ray Tune domains plus the notes' presets."""

# The one key a proposed config carries that is not a hyperparameter: which part of the search
# proposed it (sweeps/sweep/origin.py). Builders ignore it, and it seeds nothing.
ORIGIN = "origin"


def without_origin(config):
    """A config's hyperparameters alone."""
    return {key: value for key, value in config.items() if key != ORIGIN}

# The presets' values on the axes the notes never tried: off (weight_decay, which Adam and Nadam
# ignore, at Keras' AdamW default).
NOT_IN_THE_NOTES = {"label_smoothing": 0.0, "weight_decay": 0.004}
