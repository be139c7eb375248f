"""Start-up of the processes a sweep runs in: Ray (local or a cluster), TensorFlow kept quiet, and
the checks that a trial can ever be placed. The sweep, the library's refit and the ensemble trainer
all start Ray here."""

import logging
import os
import sys

from sweeps.sweep import console
from trainables.errors import UserError

USER_PENDING_TRIALS = os.environ.get("TUNE_MAX_PENDING_TRIALS_PG")

# Quiet TensorFlow's C++ chatter and Ray's migration notices in every worker.
WORKER_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
    # A reused worker waits this long for the previous trial's thread to wind down (Keras
    # unwinding out of fit, freeing its graph); Ray's default of 2 s was too short on a busy
    # 2-core machine, and a failed reset aborts the next trial instead of starting a new worker.
    "TUNE_FUNCTION_THREAD_TIMEOUT_S": "60",
}


def quiet_tensorflow(gpus):
    """Without GPUs asked for, TensorFlow's "failed call to cuInit" (an ERROR-level line on every
    machine without CUDA) is noise: only fatal messages then. With GPUs, its errors stay visible."""
    return {} if gpus or os.environ.get("TF_CPP_MIN_LOG_LEVEL") else {"TF_CPP_MIN_LOG_LEVEL": "3"}


def import_tensorflow_quietly(gpus, verbose=False):
    """Import TensorFlow in this process (the driver: library, refit) without its C++ start-up
    lines; returns the environment that quiets it in Ray's workers too."""
    quiet = quiet_tensorflow(gpus)
    os.environ.update(quiet)  # read when TensorFlow loads
    with console.native_stderr_silenced(not verbose and not gpus):
        import tensorflow  # noqa: F401
    return quiet


def joins_cluster(address):
    return bool(address or os.environ.get("RAY_ADDRESS"))  # set for drivers run by `ray job submit`


def start_ray(address=None, verbose=False, quiet=None):
    """Connect to (or start) Ray, its workers' environment with ``quiet`` (``quiet_tensorflow``);
    returns the dashboard address, when there is one. The sweep, the library's refit and the
    ensemble trainer all start Ray here."""
    import ray

    if ray.is_initialized():
        return None
    runtime_env = {"env_vars": {**WORKER_ENV, **(quiet or {})}}
    # Quiet by default: worker output (TensorFlow's start-up lines in every worker) stays in Ray's
    # session logs; a failed trial still shows, with its error file, on the progress display.
    output = {"log_to_driver": verbose, "logging_level": logging.INFO if verbose else logging.ERROR}
    if joins_cluster(address):
        context = ray.init(address=address, runtime_env=runtime_env, **output)
    else:
        # "local": a Ray of our own, never a stray `ray start` instance found on the machine.
        context = ray.init(address="local", include_dashboard=True, dashboard_host="127.0.0.1",
                           runtime_env=runtime_env, **output)
    return context.dashboard_url


def unmet_resources(nodes, cpus, gpus):
    """The flag and message for per-trial resources no node has, or None when some node has them."""
    if any(n.get("CPU", 0) >= cpus and n.get("GPU", 0) >= gpus for n in nodes):
        return None
    most_cpus = max((n.get("CPU", 0) for n in nodes), default=0)
    most_gpus = max((n.get("GPU", 0) for n in nodes), default=0)
    if most_cpus < cpus:
        return f"--cpus-per-trial {cpus:g}: no node has {cpus:g} CPUs (the most is {most_cpus:g})"
    return f"--gpus-per-trial {gpus:g}: no node has {gpus:g} GPUs (the most is {most_gpus:g})"


def check_resources(args):
    """A trial that no node can ever hold would wait out the whole budget: refuse it on this
    machine; on a cluster the autoscaler may add such a node, so say that the sweep waits for it."""
    import ray

    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    problem = unmet_resources(nodes, args.cpus_per_trial, args.gpus_per_trial)
    if problem is None:
        return
    if not joins_cluster(args.address):
        raise UserError(f"{problem} on this machine; a trial could never start")
    print(f"note: {problem} in the cluster now; trials wait until the autoscaler adds one", file=sys.stderr)


def allow_pending_trials(args):
    """Let as many trials wait as can run at once: with a searcher Tune otherwise keeps one
    waiting, so each slot but the first idles while the first trial's worker starts, and an
    autoscaler sees one trial of demand at a time."""
    import ray

    slots = args.max_concurrent
    if not slots:
        cpus = ray.cluster_resources().get("CPU", 1)
        slots = max(1, int(cpus // args.cpus_per_trial))
    if not USER_PENDING_TRIALS:  # a value the user set wins; ours is set anew for every sweep
        os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(slots)
