"""How long the refit trains, and how many members: planned from the epoch times the sweep measured
so that every member ends within a time budget (``--ensemble --time-budget-min``, ``library.py
--refit-time-min``), on the slots the cluster has."""

# Per refit member besides its epochs: a worker starting, TensorFlow's import, tracing, the
# final predictions and saving the model (measured 10-25 s on this machine's CPUs).
MEMBER_FIXED_S = 30.0
MIN_SHARE = 0.05  # of the selection's weight, for a member to be refit
# A refit epoch against the sweep's epoch time for the same config (no quarter-epoch validation,
# checkpoints or reports), 2 members at a time as in the sweep, in bench/budget_quality.py's and
# pseudo_labels.py's refits: 0.46-0.49 on an AMD EPYC Zen 4, 0.8-0.9 on an Intel Xeon (2026-12-03),
# and 0.77 and 1.3 for two configs refit side by side there (bench/RESULTS.md section 13).
# No constant holds on every machine, so the plan only shares the time out: each member fits its
# epochs to its share from its own epoch times (``member_deadlines``, ``fit_to_deadline``).
REFIT_EPOCH_RATIO = 0.65
# When every member reaches its epoch cap with budget to spare, the spare time trains more seeds
# of the chosen configs, up to the notes' final ensemble of ten members.
MAX_MEMBERS = 10
# Kept back from the budget's deadline after the last epoch: predictions, saving, writing (a few s).
TAIL_S = 20.0


def epochs_within(seconds, epoch_times, slots, cap, fixed_s=MEMBER_FIXED_S):
    """Most epochs per member such that all members, run as tasks on ``slots`` parallel slots,
    finish within ``seconds``; ``epoch_times`` are the members' seconds per epoch measured in
    the sweep. A member takes fixed_s + n * t; list scheduling finishes within sum/slots +
    (1 - 1/slots) * longest, whatever order the tasks start in. At least 1 epoch, at most ``cap``."""
    if not epoch_times:
        return 1
    slots = max(1, min(slots, len(epoch_times)))
    spread = 1 - 1 / slots
    fixed = fixed_s * len(epoch_times) / slots + spread * fixed_s
    per_epoch = sum(epoch_times) / slots + spread * max(epoch_times)
    return int(max(1, min(cap, (seconds - fixed) // per_epoch)))


def data_scale(data, fit_on, extra_digits=0):
    """How much longer an epoch is on ``fit_on`` (and ``extra_digits`` pseudo-labelled ones) than
    on the training split the sweep timed."""
    sizes = data.sizes()
    digits = {"train": sizes["train"], "train+val": sizes["train"] + sizes["val"], "all": sum(sizes.values())}
    return (digits[fit_on] + extra_digits) / sizes["train"]


def member_epoch_times(board, library_report, fit_on, data, extra_digits=0):
    """Planned seconds per refit epoch of each member to refit, from the sweep's measured times."""
    chosen = [m["trial_id"] for m in refit_members(library_report)]
    times = board.set_index("trial_id").loc[chosen, "epoch_time_s"]
    times = times.fillna(times.max()).fillna(0.0)  # a member without whole epochs: as the slowest
    return [t * data_scale(data, fit_on, extra_digits) * REFIT_EPOCH_RATIO for t in times]


def member_deadlines(seconds, epoch_times, slots, epochs, fixed_s=MEMBER_FIXED_S):
    """Seconds from now by which each member should end: the members in order, each on the slot
    that frees first (as Ray starts queued tasks), taking ``fixed_s + epochs * t``, then each
    slot's members stretched (or shrunk) so that its last ends at ``seconds``: a plan whose epoch
    times were too low or too high still shares out the whole time, and no slot idles at the end."""
    free, placed = [0.0] * max(1, slots), []
    for time_per_epoch in epoch_times:
        slot = min(range(len(free)), key=free.__getitem__)
        free[slot] += fixed_s + epochs * time_per_epoch
        placed.append((slot, free[slot]))
    return [end * seconds / free[slot] for slot, end in placed]


def more_seed(seeds, weights):
    """``seeds`` with one more to the config kept with the most selection weight per seed."""
    more = list(seeds)
    more[max((i for i in range(len(seeds)) if seeds[i]), key=lambda i: weights[i] / seeds[i])] += 1
    return more


def seeds_within(seconds, epoch_times, weights, slots, epochs, most=MAX_MEMBERS, seeds=None):
    """Seeds per member when every member trains the capped ``epochs`` with time to spare: one
    more seed at a time (``more_seed``, so seeds follow the weights), from ``seeds`` (one each by
    default; 0 leaves a config out), while all of them still fit ``seconds``; at most ``most``
    members in all."""
    seeds = list(seeds or [1] * len(epoch_times))
    while sum(seeds) < most:
        more = more_seed(seeds, weights)
        expanded = [t for t, n in zip(epoch_times, more) for _ in range(n)]
        if epochs_within(seconds, expanded, slots, cap=epochs) < epochs:
            break
        seeds = more
    return seeds


def configs_within(seconds, epoch_times, weights, slots, cap):
    """Seeds per config (1, or 0 to leave it out): every config when all reach the epoch cap
    together; else the heaviest in whole rounds of the slots, the most rounds that still reach
    the cap, at least one. A partial round would halve every member's epochs for a light member:
    at 419 s on 2 slots, 3 members of 17-20 epochs scored 1.2 points below 2 of 29 and a third cut
    at 11 (bench/RESULTS.md section 13), the schedules (plateau, exponential) still high at 18.
    Fewer configs than slots: seeds of the heaviest fill the round."""
    order = sorted(range(len(epoch_times)), key=lambda i: -weights[i])
    count = min(slots, len(order))
    for kept in [*range(slots, len(order), slots), len(order)]:
        if epochs_within(seconds, [epoch_times[i] for i in order[:kept]], slots, cap) == cap:
            count = kept
    seeds = [int(i in order[:count]) for i in range(len(epoch_times))]
    while sum(seeds) < slots and sum(seeds) < MAX_MEMBERS:
        seeds = more_seed(seeds, weights)
    return seeds


def chosen_epochs(library_report):
    """The most epochs any checkpoint to be refit had trained: a planned refit shorter than this
    would replace the library's models by less trained ones."""
    return max(m["best_epoch"] for m in refit_members(library_report))


def budget_plan(board, library_report, left, slots, data, fit_on, cap, extra_digits=0):
    """(epochs per member, seeds per config, each member's seconds from now to its end) that fit
    ``left`` seconds on ``slots``: at most ``cap`` epochs a member, and when all reach it, more
    seeds in the time left; the last member ends ``TAIL_S`` before ``left``."""
    times = member_epoch_times(board, library_report, fit_on, data, extra_digits)
    weights = [m["weight"] for m in refit_members(library_report)]
    seeds = configs_within(left, times, weights, slots, cap)
    each = [t for t, n in zip(times, seeds) for _ in range(n)]
    epochs = epochs_within(left, each, slots, cap)
    print(f"refit: {left:.0f} s left of the budget: {epochs} epochs per member on {slots} slots (planned from "
          f"the sweep's epoch times; each member fits its epochs to its share of the time)", flush=True)
    if seeds != [1] * len(times):
        print(f"refit: seeds per config {seeds}: whole rounds of the {slots} slots", flush=True)
    if epochs == cap:
        seeds = seeds_within(left, times, weights, slots, epochs, seeds=seeds)
        if sum(seeds) > len(seeds):
            print(f"refit: {epochs} epochs is the most a member trains; the time left trains "
                  f"{sum(seeds)} members: seeds per config {seeds}", flush=True)
    each = [t for t, n in zip(times, seeds) for _ in range(n)]
    return epochs, seeds, member_deadlines(left - TAIL_S, each, slots, epochs)


def parallel_members(resources, cpus, gpus):
    """How many members train at once: as many as the cluster's CPUs and, when members ask for
    GPUs, its GPUs hold (2 CPUs and 1 GPU with --gpus-per-trial 1: one member, not two)."""
    slots = int(resources.get("CPU", 1) // cpus)
    if gpus:
        slots = min(slots, int(resources.get("GPU", 0) // gpus + 1e-9))
    return max(1, slots)



def refit_members(library_report, min_share=MIN_SHARE):
    """The chosen members that carry at least ``min_share`` of the selection's weight. Bagged
    selection gives a weight of 1 in a few hundred to members picked in one bag for a log-loss
    tie; they change no prediction, but refitting each would cost as much as the main members."""
    total = sum(m["weight"] for m in library_report["members"])
    return [m for m in library_report["members"] if m["weight"] and m["weight"] >= min_share * total]
