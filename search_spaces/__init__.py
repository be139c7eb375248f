"""Search spaces: one module per model family, Ray Tune domains plus the notes' presets."""
