"""Entry points and the one place that assembles a Ray Tune Tuner."""
