"""4. Data loading: a 42,000-row Kaggle-format CSV to arrays, pandas.read_csv vs the project's loader.

The CSV is built from the embedded 5,000 digits, tiled and shuffled, with
trainables.data.kaggle_csv.write_kaggle_csv. Arms, each repeated and timed by its median:
pandas.read_csv with defaults then the same arrays the loader returns (uint8 (N, 28, 28, 1) images,
int64 labels); the project's loader (trainables.data.kaggle_csv.load_kaggle_csv) with an empty cache
dir (first read: hash, validate, write the Parquet cache); and again with the cache filled.
Goals: cached read >= 20x faster than pandas, first read >= 3x faster.
"""

import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import recording  # noqa: E402

SIZES = {"tiny": {"rows": 5000, "repeat": 1}, "quick": {"rows": 42000, "repeat": 3}, "full": {"rows": 42000, "repeat": 5}}
CACHED_GOAL, FIRST_GOAL = 20.0, 3.0


def build_csv(path, rows, seed=0):
    from trainables.data.loading import load_embedded
    from trainables.data.kaggle_csv import write_kaggle_csv

    images, labels, _ = load_embedded()
    pick = np.random.default_rng(seed).permutation(np.resize(np.arange(len(labels)), rows))
    write_kaggle_csv(path, images[pick], labels[pick])
    return images[pick], labels[pick]


def pandas_read(path):
    import pandas as pd

    frame = pd.read_csv(path)
    labels = frame["label"].to_numpy(dtype=np.int64)
    images = frame.drop(columns="label").to_numpy(dtype=np.uint8).reshape(-1, 28, 28, 1)
    return images, labels


def first_read_phases(path, cache_dir):
    """The loader's first read, step by step (the steps of load_kaggle_csv)."""
    import pyarrow.parquet as pq

    from trainables.data import csv_parse
    from trainables.data import kaggle_csv as k

    phases = {}
    with common.timer(phases, "content hash (sha256)"):
        k.content_hash(path)
    with common.timer(phases, "header check"):
        csv_parse.check_header(path, True)
    with common.timer(phases, "pyarrow CSV parse"):
        table = csv_parse.parse(path, True)
    with common.timer(phases, "validate (nulls, ranges) and to uint8"):
        arrays = csv_parse.validated_arrays(path, table, True)
    with common.timer(phases, "to cache table"):
        cache_table = k._to_cache_table(*arrays)
    with common.timer(phases, "write Parquet cache"):
        pq.write_table(cache_table, cache_dir / "phase-probe.parquet")
    with common.timer(phases, "cache table to arrays"):
        k._from_cache_table(cache_table)
    return phases


def cached_read_phases(path, cache_dir):
    """The loader's cached read, step by step."""
    import pyarrow.parquet as pq

    from trainables.data import kaggle_csv as k

    phases = {}
    with common.timer(phases, "content hash (memo lookup)"):
        digest = k._memo_path(path, cache_dir).read_text()
    with common.timer(phases, "Parquet read"):
        table = pq.read_table(cache_dir / f"train-{digest}-v{k.CACHE_FORMAT}.parquet")
    with common.timer(phases, "cache table to arrays"):
        k._from_cache_table(table)
    return phases


def main(argv=None):
    args = common.parse(common.parser(__doc__.split("\n\n")[0], SIZES), argv)
    size, work = args.size, args.work / "data_loading"
    report = recording.Report("data_loading", "4. Data loading", args)
    from trainables.data.kaggle_csv import load_kaggle_csv

    work.mkdir(parents=True, exist_ok=True)
    csv = work / "train.csv"
    want_images, want_labels = build_csv(csv, size["rows"])
    csv.read_bytes()  # the file is in the page cache for every arm alike
    cold, warm = work / "cache-cold", work / "cache-warm"

    def empty_cache():
        shutil.rmtree(cold, ignore_errors=True)

    t_pandas, all_pandas = common.median_time(lambda: pandas_read(csv), size["repeat"])
    t_first, all_first = common.median_time(lambda: load_kaggle_csv(csv, cache_dir=cold), size["repeat"], setup=empty_cache)
    shutil.rmtree(warm, ignore_errors=True)
    load_kaggle_csv(csv, cache_dir=warm)
    t_cached, all_cached = common.median_time(lambda: load_kaggle_csv(csv, cache_dir=warm), max(size["repeat"], 5))

    images, labels, _ = load_kaggle_csv(csv, cache_dir=warm)
    p_images, p_labels = pandas_read(csv)
    same = (np.array_equal(images, want_images) and np.array_equal(labels, want_labels)
            and np.array_equal(p_images, want_images) and np.array_equal(p_labels, want_labels))
    report.add(
        recording.figure("pandas.read_csv to arrays (median), s", t_pandas),
        recording.figure("loader, first read (empty cache, median), s", t_first),
        recording.figure("loader, cached read (median), s", t_cached, fmt="{:.4f}"),
        recording.figure("first read: pandas / loader", t_pandas / t_first, ">= 3x", t_pandas / t_first >= FIRST_GOAL, fmt="{:.1f}x"),
        recording.figure("cached read: pandas / loader", t_pandas / t_cached, ">= 20x", t_pandas / t_cached >= CACHED_GOAL, fmt="{:.1f}x"),
        recording.figure("all arms give the same arrays", int(same), "identical", same, fmt="yes" if same else "no"),
    )
    size_mb = csv.stat().st_size / 2**20
    times = [("pandas", all_pandas), ("loader first read", all_first), ("loader cached", all_cached)]
    report.note("Setup", f"{size['rows']:,} rows ({size_mb:.0f} MiB) in {csv}, the embedded digits tiled and shuffled "
                f"(seed 0); every time, in seconds: "
                + "; ".join(f"{name} {', '.join(f'{t:.3f}' for t in ts)}" for name, ts in times)
                + ". pyarrow's CSV reader uses all cores; pandas' default C parser one.")
    probe = work / "cache-probe"
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir()
    phases = first_read_phases(csv, probe)
    report.note("Profile: the loader's first read, step by step", recording.seconds_table(phases, sum(phases.values())))
    phases = cached_read_phases(csv, warm)
    report.note("Profile: the loader's cached read, step by step", recording.seconds_table(phases, sum(phases.values())))
    if args.profile:
        import cProfile
        import io
        import pstats

        empty_cache()
        prof = cProfile.Profile()
        prof.runcall(load_kaggle_csv, csv, cache_dir=cold)
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(12)
        report.note("cProfile of a first read", f"```\n{out.getvalue().strip()}\n```")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
