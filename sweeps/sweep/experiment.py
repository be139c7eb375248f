"""Experiment directories: where they live, and the metadata the sweep writes beside Tune's files.

Storage is a local directory or a URI that pyarrow's filesystems understand
(``s3://bucket/path``); ``digit_sweep.json`` records the family, the flags and
the data fingerprint so the leaderboard, a resume and the ensemble trainer
know what the experiment was. An experiment is one or more Tune runs: the
sweep, in its directory, then each ``--extend`` in a sub-directory
(``extend-1``, ...) that the metadata lists under ``extensions``.
"""

import json
import os
import tempfile
import time
from pathlib import Path

import pyarrow.fs as pafs

from trainables.errors import UserError

METADATA = "digit_sweep.json"


def is_uri(path):
    return "://" in str(path)


def resolve_storage(storage):
    return storage if is_uri(storage) else str(Path(storage).expanduser().resolve())


def check_storage(storage):
    """``--storage`` resolved; a local one must be a directory this process can create and write."""
    resolved = resolve_storage(storage)
    if is_uri(resolved):
        return resolved
    path = Path(resolved)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserError(f"--storage {storage}: {existing} is a file, not a directory")
    if existing is not None:
        try:  # a probe, not os.access: root passes every permission check, not a read-only disk
            tempfile.TemporaryFile(dir=existing).close()
        except OSError as error:
            raise UserError(f"--storage {storage}: {existing} cannot be written ({error.strerror})") from None
    return resolved


def check_name(name):
    """An experiment name is one path component, so every experiment stays inside its storage."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise UserError(f"--name {name!r}: an experiment name is one path component "
                        "(no '/', and not '.', '..' or a hidden name)")
    return name


def join(storage, name):
    return f"{storage.rstrip('/')}/{name}"


def _filesystem(path):
    if is_uri(path):
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), str(Path(path).resolve())


def replace_atomically(path, write):
    """``write(tmp)`` to a sibling temporary file, then move it onto ``path`` in one step: a reader,
    or a crash half-way, finds the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def child(path, *parts):
    """A path inside ``path``: a ``Path`` when local, a URI string when remote (pathlib would turn
    ``s3://b`` into ``s3:/b``)."""
    if is_uri(path):
        return "/".join([str(path).rstrip("/"), *parts])
    return Path(path, *parts)


def name_of(path):
    """The experiment's name: the last component of its path or URI."""
    return str(path).rstrip("/").rsplit("/", 1)[-1]


def parent(path):
    return str(path).rstrip("/").rsplit("/", 1)[0] if is_uri(path) else Path(path).parent


def write_file(target, write):
    """One output file from ``write(local path)``: a local one replaced atomically, a remote one
    written locally first and uploaded whole (an object store's PUT is atomic too)."""
    if not is_uri(target):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        return replace_atomically(target, write)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp, str(target).rsplit("/", 1)[-1])
        write(local)
        upload(local, target)
    return target


def upload(local_file, target):
    fs, fs_path = _filesystem(target)
    with open(local_file, "rb") as source, fs.open_output_stream(fs_path) as stream:
        while chunk := source.read(1 << 24):
            stream.write(chunk)


def replace_remote_dir(local_dir, target):
    """Make the remote directory ``target`` hold what ``local_dir`` holds. An object store has no
    rename: each file is uploaded whole, the manifest and reports last (readers start from them),
    then files the new outputs no longer have are deleted."""
    files = sorted((p for p in Path(local_dir).rglob("*") if p.is_file()),
                   key=lambda p: (p.name in ("manifest.json", "report.json"), str(p)))
    for path in files:
        upload(path, child(target, *path.relative_to(local_dir).parts))
    fs, root = _filesystem(target)
    keep = {f"{root}/{p.relative_to(local_dir).as_posix()}" for p in files}
    stale = [i.path for i in fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
             if i.type == pafs.FileType.File and i.path not in keep]
    for path in stale:
        fs.delete_file(path)


def files_under(path):
    """Every file under a local or remote directory, as paths (or URIs) a user can open."""
    fs, root = _filesystem(path)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    found = sorted(i.path for i in infos if i.type == pafs.FileType.File)
    if not is_uri(path):
        return [Path(f) for f in found]
    return [f"{str(path).split('://', 1)[0]}://{f}" for f in found]


def download(path, local_dir):
    """A remote file or directory copied into ``local_dir``; returns the local path."""
    fs, fs_path = _filesystem(path)
    local = Path(local_dir, fs_path.rstrip("/").rsplit("/", 1)[-1])
    Path(local_dir).mkdir(parents=True, exist_ok=True)
    pafs.copy_files(fs_path, str(local), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
    return local


def write_text(path, text):
    fs, fs_path = _filesystem(path)
    fs.create_dir(fs_path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(fs_path) as stream:
        stream.write(text.encode())


def read_bytes(path):
    fs, fs_path = _filesystem(path)
    with fs.open_input_stream(fs_path) as stream:
        return stream.read()


def read_text(path):
    return read_bytes(path).decode()


def exists(path):
    fs, fs_path = _filesystem(path)
    return fs.get_file_info(fs_path).type != pafs.FileType.NotFound


def write_metadata(path, definition, args, data):
    flags = {k: v for k, v in vars(args).items() if k != "preset_configs"}
    metadata = {
        "family": definition.family,
        "metric": definition.metric,
        "mode": definition.mode,
        "time_attr": definition.time_attr,
        "max_epochs": args.max_epochs,
        "presets": {name: config for name, config in definition.presets.items()},
        "data": {"source": data.source, "fingerprint": data.fingerprint, **data.sizes()},
        "flags": flags,
        "started": time.time(),  # what latest() ranks by: an --extend rewrites the file later
    }
    _write_metadata(path, metadata)


def _write_metadata(path, metadata):
    """The whole file replaced in one step: an interrupted write never leaves half of it."""
    text = json.dumps(metadata, indent=2, default=str)
    write_file(f"{path}/{METADATA}", lambda tmp: Path(tmp).write_text(text))


def read_metadata(path):
    target = f"{str(path).rstrip('/')}/{METADATA}"
    if not exists(target):
        raise UserError(f"{path}: not a digit-sweep experiment (no {METADATA})")
    return json.loads(read_text(target))


def data_of(metadata):
    """The exact split the experiment used, checked by fingerprint."""
    from trainables.data.loading import load_data

    flags = metadata["flags"]
    data = load_data(flags["data"], flags["val_fraction"], flags["test_fraction"], flags["seed"], flags["limit"])
    if data.fingerprint != metadata["data"]["fingerprint"]:
        raise UserError(f"the experiment's data ({flags['data']}) no longer gives fingerprint "
                        f"{metadata['data']['fingerprint']}; was the file changed?")
    return data


def runs(path, metadata):
    """The experiment's Tune runs, oldest first: the sweep itself, then each extension."""
    return [str(path)] + [join(str(path), e["name"]) for e in metadata.get("extensions", [])]


def analyses(path, metadata):
    """An ``ExperimentAnalysis`` of each run; an extension stopped before Tune saved its first
    state has none yet and is left out."""
    from ray.tune import ExperimentAnalysis

    found = []
    for i, run in enumerate(runs(path, metadata)):
        try:
            found.append(ExperimentAnalysis(run))
        except (ValueError, FileNotFoundError):  # no snapshot yet: Tune had not started writing
            if i == 0:
                raise
    return found


def add_extension(path, entry):
    """Record a new run of the experiment in its metadata; returns the run's name."""
    metadata = read_metadata(path)
    extensions = metadata.setdefault("extensions", [])
    name = f"extend-{len(extensions) + 1}"
    extensions.append({"name": name, **entry})
    _write_metadata(path, metadata)
    return name


def latest(storage, family, flag="--resume"):
    """The most recently started experiment of ``family`` under ``storage``."""
    fs, root = _filesystem(storage)
    infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    candidates = [i.path for i in infos if i.type == pafs.FileType.Directory and i.base_name.startswith(f"{family}-")]
    # "Latest" is the one started last, as its metadata records (names sort alphabetically, and
    # "cnn-smoke" would beat "cnn-20261124-..."; the file's time changes when --extend adds a run).
    started = {}
    for info in fs.get_file_info([f"{c}/{METADATA}" for c in candidates]):
        if info.type == pafs.FileType.File:
            name = info.path.rsplit("/", 2)[-2]
            with fs.open_input_stream(info.path) as stream:
                recorded = json.loads(stream.read().decode() or "{}").get("started")
            started[name] = recorded * 1e9 if recorded else (info.mtime_ns or 0)
    if not started:
        raise UserError(f"{flag}: no {family} experiment under {storage}; name one with --name")
    return max(started, key=lambda name: (started[name], name))


def refuse_changed_flags(args, flags, recorded, why):
    """A flag among ``flags`` whose value differs from the experiment's ``recorded`` one is refused,
    naming it; ``why`` starts the message."""
    for flag in sorted(flags):
        if flag in recorded and getattr(args, flag) != recorded[flag]:
            option = "--" + flag.replace("_", "-")
            raise UserError(f"{why}: {option} {getattr(args, flag)} differs from the experiment's "
                            f"{recorded[flag]}; leave {option} out")


def check_resumable(storage, name, fingerprint, flag="--resume"):
    path = join(storage, name)
    metadata = read_metadata(path)
    if metadata["data"]["fingerprint"] != fingerprint:
        raise UserError(
            f"{flag}: {path} was run on data {metadata['data']['fingerprint']}, "
            f"but these flags give {fingerprint}; use the same --data, fractions, --limit and --seed"
        )
