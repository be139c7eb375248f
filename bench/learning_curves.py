"""Record the table of learning curves that scheduling decisions are measured on (issue 24).

    python bench/learning_curves.py                  # record, then write bench/data/cnn_curves.parquet
    python bench/learning_curves.py --collect DIR [DIR ...]   # the table from (partly) recorded runs

The CNN space's 9 presets and ``--drawn`` configs drawn from it (a fixed seed), each trained to
the sweep's horizon (16 epochs) with ``--seeds`` seeds on the default embedded split (train 3,500,
val 750), through the sweep's own trainable and in the sweep's conditions: Ray Tune, one CPU a
trial, two trials at once on this machine's two cores, reused workers. Every report point the
scheduler can decide at is in the table (each quarter of the first epoch, then each epoch), with
validation accuracy and loss and the wall seconds since the trial started (so fixed costs are in).
At the horizon each run's last checkpoint also scores the test split, which nothing chooses on.

Seed 0 of every config runs before seed 1, so a run cut short still holds whole curves.
Cost on 2 cores: about an hour a seed (see bench/RESULTS.md, "Learning-curve table").
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TABLE = REPO / "bench" / "data" / "cnn_curves.parquet"
HORIZON = 16
REPORT_AT = [0.25, 0.5, 0.75]


def table_configs(drawn, seed=0):
    """[(name, origin, config)]: the presets, then ``drawn`` configs sampled from the space."""
    from search_spaces import cnn

    rng = np.random.RandomState(seed)
    configs = [(name, "preset", dict(config)) for name, config in cnn.PRESETS.items()]
    for i in range(drawn):
        config = {key: domain.sample(random_state=rng) for key, domain in cnn.SPACE.items()}
        configs.append((f"drawn-{i:02d}", "drawn", {k: _plain(v) for k, v in config.items()}))
    return configs


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def table_trial(config, data, configs, max_epochs):
    from trainables.keras_trainable import train_keras
    from trainables.models import build_cnn

    cell = config["cell"]
    _, _, hyper = configs[cell["index"]]
    train_keras(hyper, data, build_cnn, max_epochs, base_seed=cell["seed"], report_at=REPORT_AT)


def record(args, configs, data):
    from ray import tune

    from sweeps.sweep.runtime import import_tensorflow_quietly, start_ray

    start_ray(quiet=import_tensorflow_quietly(0))
    names = [name for name, _, _ in configs]
    order = [names.index(n) for n in args.configs.split(",")] if args.configs else range(len(configs))
    grid = [{"seed": s, "index": i} for s in range(args.first_seed, args.first_seed + args.seeds) for i in order]
    trainable = tune.with_resources(
        tune.with_parameters(table_trial, data=data.for_search(), configs=configs, max_epochs=args.horizon),
        {"cpu": 1},
    )
    tuner = tune.Tuner(
        trainable, param_space={"cell": tune.grid_search(grid)},
        tune_config=tune.TuneConfig(max_concurrent_trials=args.slots, reuse_actors=True),
        run_config=tune.RunConfig(name=args.name, storage_path=str(Path(args.storage).resolve()),
                                  checkpoint_config=tune.CheckpointConfig(num_to_keep=1), verbose=1),
    )
    tuner.fit()
    return Path(args.storage).resolve() / args.name


def _unwrap(trainable_config):
    return trainable_config["cell"] if "cell" in trainable_config else trainable_config


def collect(paths, configs, data, horizon=HORIZON):
    """The table from recorded runs: every run that reached the horizon."""
    import keras
    from ray import tune

    from trainables.keras_trainable import configure_tensorflow, load_checkpoint

    configure_tensorflow(1)
    results = [r for path in paths for r in tune.Tuner.restore(str(path), trainable=table_trial).get_results()]
    rows = []
    for result in results:
        if result.config is None:
            continue
        cell = _unwrap(result.config)
        frame = result.metrics_dataframe
        if frame is None or frame.empty or frame["epoch"].max() < horizon - 1e-9 or result.checkpoint is None:
            continue
        keras.utils.clear_session(free_memory=False)
        with result.checkpoint.as_directory() as directory:
            model, _ = load_checkpoint(directory)
        test_accuracy = float(np.mean(model.predict(data.x_test, verbose=0).argmax(1) == data.y_test))
        name, origin, hyper = configs[cell["index"]]
        for _, report in frame.sort_values("training_iteration").iterrows():
            rows.append({
                "config_id": name, "origin": origin, "seed": cell["seed"], "epoch": float(report["epoch"]),
                "val_accuracy": float(report["val_accuracy"]), "val_loss": float(report["val_loss"]),
                "time_s": float(report["time_total_s"]), "test_accuracy_at_horizon": test_accuracy,
                "config": json.dumps(hyper, sort_keys=True),
            })
    table = pd.DataFrame(rows)
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(TABLE, index=False, compression="zstd")
    return table


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--drawn", type=int, default=40, help="configs drawn from the space besides the presets")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--first-seed", type=int, default=0, help="record seeds first-seed, first-seed + 1, ...")
    p.add_argument("--configs", help="comma-separated config names to record, in this order (default: all)")
    p.add_argument("--slots", type=int, default=2, help="trials at once (the sweep's default on 2 cores)")
    p.add_argument("--horizon", type=int, default=HORIZON)
    p.add_argument("--storage", default="results")
    p.add_argument("--name", default=time.strftime("curves-%Y%m%d-%H%M%S"))
    p.add_argument("--collect", nargs="+", help="recorded runs' directories: write the table from them, train nothing")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from trainables.data.loading import load_data

    configs = table_configs(args.drawn)
    data = load_data(seed=0)
    started = time.perf_counter()
    paths = [Path(c) for c in args.collect] if args.collect else [record(args, configs, data)]
    table = collect(paths, configs, data, args.horizon)
    runs = table.groupby(["config_id", "seed"]).size().shape[0] if not table.empty else 0
    print(f"{TABLE}: {runs} runs to epoch {args.horizon}, {len(table)} rows; {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
