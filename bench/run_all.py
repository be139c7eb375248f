"""Run every benchmark in turn (each in its own process) and summarise figures against goals.

    python bench/run_all.py --quick     # under 15 minutes on 2 CPU cores (on an otherwise idle machine)
    python bench/run_all.py             # fuller sizes
    python bench/run_all.py --tiny      # smoke check: tiny sizes, records nothing

Each benchmark records its own section of bench/RESULTS.md; this adds a summary section. In quick
mode the ensemble benchmark reuses benchmark 1's finished sweep as its experiment.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import recording  # noqa: E402

BENCHMARKS = ["data_loading", "trial_overhead", "sweep_vs_handrun", "ensemble_quality", "asha_vs_fifo", "gpu"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true")
    mode.add_argument("--tiny", action="store_true", help="smoke-check sizes; records nothing")
    p.add_argument("--profile", action="store_true", help="pass --profile to every benchmark (adds cProfile output)")
    p.add_argument("--only", help="comma-separated benchmarks to run (default: all)")
    p.add_argument("--no-record", action="store_true")
    p.add_argument("--work", default=str(common.WORK))
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else BENCHMARKS
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        p.error(f"unknown benchmarks: {', '.join(sorted(unknown))}; known: {', '.join(BENCHMARKS)}")
    flags = ["--quick"] if args.quick else ["--tiny"] if args.tiny else []
    flags += ["--profile"] if args.profile else []
    flags += ["--no-record"] if args.no_record else []
    flags += ["--work", args.work]
    record = not (args.no_record or args.tiny)
    env = common.bench_env(DIGIT_BENCH_PARENT=recording.command_line())

    started, load_start, results = time.perf_counter(), recording.load_average(), {}
    print(f"run_all: {', '.join(names)}; load average at start {load_start}", flush=True)
    for name in names:
        extra = []
        handrun_sweep = Path(args.work) / "sweep_vs_handrun" / "sweep"
        if name == "ensemble_quality" and (args.quick or args.tiny) and results.get("sweep_vs_handrun", {}).get("ok"):
            extra = ["--experiment", str(handrun_sweep)]
        cmd = [common.PYTHON, str(common.ROOT / "bench" / f"{name}.py"), *flags, *extra]
        t0 = time.perf_counter()
        try:
            _, output = common.run(cmd, env=env, echo=True)
            line = next(x for x in reversed(output.splitlines()) if x.startswith(recording.RESULT_TAG))
            results[name] = {"ok": True, **json.loads(line[len(recording.RESULT_TAG):])}
        except (RuntimeError, StopIteration) as error:
            print(f"run_all: {name} failed: {error}", flush=True)
            results[name] = {"ok": False, "error": str(error).splitlines()[0], "wall_s": time.perf_counter() - t0}
    total, load_end = time.perf_counter() - started, recording.load_average()

    rows = []
    for name in names:
        r = results[name]
        if not r["ok"]:
            rows.append((name, "FAILED", r["error"][:120], "", "", f"{r['wall_s']:.0f}"))
        elif r.get("skipped"):
            rows.append((name, "skipped", r["skipped"], "", "", f"{r['wall_s']:.0f}"))
        else:
            shown = [f for f in r["figures"] if f["goal"]] or r["figures"]
            for i, f in enumerate(shown):
                rows.append((name if i == 0 else "", f["name"], f["text"], f["goal"] or "", recording.verdict(f["met"]),
                             f"{r['wall_s']:.0f}" if i == 0 else ""))
    summary = recording.table(rows, ["benchmark", "figure", "value", "goal", "result", "seconds"])
    goals = [f["met"] for r in results.values() if r["ok"] for f in r["figures"] if f["met"] is not None]
    verdict = f"{sum(goals)} of {len(goals)} goals met; total {total:.0f} s ({total / 60:.1f} min)"
    print("\n" + summary + "\n\n" + verdict + f"; load average at end {load_end}", flush=True)
    if record:
        m = recording.machine()
        text = "\n".join([
            "## Summary (run_all)", "",
            f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
            f"- command: `{recording.command_line()}`",
            f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB memory; "
            + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
            f"- load average (1, 5, 15 min): {load_start} at start, {load_end} at end",
            f"- total: {total:.0f} s ({total / 60:.1f} min); {verdict.split(';')[0]}", "",
            summary, "",
        ])
        recording.write_section("run_all", text)
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
