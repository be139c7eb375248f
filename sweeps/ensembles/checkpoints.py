"""The sweep's trial checkpoints as models: fetched from the experiment's storage (local or
s3://) and run on images. The library ensemble, the refit and ``predict.py`` read them here."""

from contextlib import contextmanager

import numpy as np

from sweeps.sweep import experiment


@contextmanager
def local_checkpoint(checkpoint_path, experiment_path):
    """A local directory holding the checkpoint; downloaded first when the experiment is remote."""
    if not experiment.is_uri(checkpoint_path) and not experiment.is_uri(experiment_path):
        yield checkpoint_path
        return
    import pyarrow.fs as pafs
    from ray.tune import Checkpoint

    if experiment.is_uri(checkpoint_path):
        filesystem, checkpoint_path = pafs.FileSystem.from_uri(str(checkpoint_path))
    else:  # a leaderboard written before checkpoints were full URIs
        filesystem = pafs.FileSystem.from_uri(str(experiment_path))[0]
    with Checkpoint(checkpoint_path, filesystem=filesystem).as_directory() as directory:
        yield directory


def predict(rows, experiment_path, splits, cpus=None, tta=1):
    """{split name: (members, n, 10) probabilities} from each row's best checkpoint, each the mean
    over ``tta`` shifted views of the images (``trainables.ensemble.predict_views``)."""
    from trainables.ensemble import predict_views
    from trainables.keras_trainable import configure_tensorflow, load_checkpoint

    configure_tensorflow(cpus or 1)
    import keras

    out = {name: [] for name in splits}
    for checkpoint_path in rows["checkpoint"]:
        keras.utils.clear_session(free_memory=False)  # a full collection per member cost ~0.4 s
        with local_checkpoint(checkpoint_path, experiment_path) as directory:
            model, _ = load_checkpoint(directory)
        for name, images in splits.items():
            out[name].append(predict_views(model, images, tta))
    return {name: np.stack(values) for name, values in out.items()}
