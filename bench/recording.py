"""What a benchmark run records: its figures and tables, the machine it ran on, the printed
summary, the ``BENCH_RESULT {json}`` line that ``run_all.py`` collects, and its section of
bench/RESULTS.md (laid out by bench/results_file.py).
"""

import datetime as dt
import importlib.metadata
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import results_file
from common import PYTHON, ROOT

RESULTS = ROOT / "bench" / "RESULTS.md"
RESULT_TAG = "BENCH_RESULT "


# ---------------------------------------------------------------- machine

def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def load_average():
    return tuple(round(x, 2) for x in os.getloadavg())


def machine():
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": f"{os.cpu_count()} logical, {usable} usable",
        "memory_gib": round(_memory_gib(), 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {p: _version(p) for p in ["ray", "tensorflow", "keras", "numpy", "pandas", "pyarrow"]},
    }


# ---------------------------------------------------------------- results

def figure(name, value, goal=None, met=None, fmt="{:.3f}"):
    return {"name": name, "value": value, "goal": goal, "met": met, "text": fmt.format(value) if value is not None else "n/a"}


def verdict(met):
    return "—" if met is None else "met" if met else "MISSED"


def table(rows, headers):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def seconds_table(phases, total=None):
    def fmt(v):
        return (f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}") if isinstance(v, float) else v

    rows = [(k, fmt(v)) for k, v in phases.items()]
    if total:
        rows = [(k, v, f"{phases[k] / total:.0%}" if isinstance(phases[k], float) else "") for k, v in rows]
        return table(rows, ["phase", "seconds", "share"])
    return table(rows, ["phase", "seconds"])


def command_line():
    exe = Path(PYTHON)
    try:
        exe = exe.relative_to(ROOT)
    except ValueError:
        pass
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    return shlex.join([str(exe), str(script), *sys.argv[1:]])


def git_commit():
    """The checkout's commit, with '+' when it has uncommitted changes."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    return commit + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")


class Report:
    """Collects a benchmark's figures and notes; prints them and writes its RESULTS.md section."""

    def __init__(self, name, title, args):
        self.name, self.title, self.args = name, title, args
        self.started_at = dt.datetime.now().astimezone()
        self.load_start = load_average()
        self.t0 = time.perf_counter()
        self.figures, self.parts = [], []
        print(f"== {title} ({args.mode} mode) == load average at start {self.load_start}", flush=True)

    def add(self, *figures):
        for f in figures:
            self.figures.append(f)
            goal = f" (goal {f['goal']}: {verdict(f['met'])})" if f["goal"] else ""
            print(f"  {f['name']}: {f['text']}{goal}", flush=True)

    def note(self, heading, text):
        self.parts.append((heading, text))
        print(f"\n-- {heading} --\n{text}\n", flush=True)

    def finish(self, skipped=None):
        wall = time.perf_counter() - self.t0
        load_end = load_average()
        print(f"== {self.name}: {wall:.0f} s; load average at end {load_end}", flush=True)
        if self.args.record:
            # Full-mode runs keep their own section, so a later --quick run does not replace them.
            key = self.name if self.args.mode != "full" else f"{self.name}_full"
            write_section(key, self._markdown(wall, load_end, skipped))
            print(f"recorded in {RESULTS}", flush=True)
        result = {"benchmark": self.name, "title": self.title, "mode": self.args.mode, "wall_s": wall,
                  "skipped": skipped, "load_start": self.load_start, "load_end": load_end,
                  "figures": [{k: f[k] for k in ("name", "text", "goal", "met")} for f in self.figures]}
        print(RESULT_TAG + json.dumps(result, default=str), flush=True)
        return 0

    def _markdown(self, wall, load_end, skipped):
        m = machine()
        versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        parent = os.environ.get("DIGIT_BENCH_PARENT")
        lines = [
            f"## {self.title}", "",
            f"- date: {self.started_at.strftime('%Y-%m-%d %H:%M %Z')}, {wall:.0f} s",
            f"- commit: {git_commit()}",
            f"- command: `{command_line()}`" + (f" (run by `{parent}`)" if parent else ""),
            f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB memory, {m['os']}, Python {m['python']}",
            f"- versions: {versions}",
            f"- load average (1, 5, 15 min): {self.load_start} at start, {load_end} at end",
            f"- mode: {self.args.mode}",
            "",
        ]
        if skipped:
            lines += [f"**skipped: {skipped}**", ""]
        if self.figures:
            rows = [(f["name"], f["text"], f["goal"] or "", verdict(f["met"])) for f in self.figures]
            lines += [table(rows, ["figure", "value", "goal", "result"]), ""]
        for heading, text in self.parts:
            lines += [f"### {heading}", "", text.rstrip(), ""]
        return "\n".join(lines).rstrip() + "\n"


def write_section(name, markdown):
    """Record a run of the benchmark ``name`` in bench/RESULTS.md (bench/results_file.py)."""
    results_file.record(name, markdown, RESULTS)
