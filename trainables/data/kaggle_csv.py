"""Kaggle Digit Recognizer CSVs: validate once, then cache as Parquet.

``train.csv`` is ``label,pixel0..pixel783``; ``test.csv`` the same without
``label``. Accepted as users have them: plain, gzipped (``train.csv.gz``),
inside Kaggle's download ``digit-recognizer.zip`` (its ``train.csv`` or
``test.csv``), with or without Excel's byte-order mark. A file that passes
validation is cached as Parquet under its content hash, so a second load of the
same bytes is one Parquet read; a file that fails writes nothing, not even its
hash memo. Error messages name the file (``archive.zip:train.csv`` for a zip member), the line
(1-based, the header is line 1) and the column of the first problem (trainables/data/csv_parse.py).
"""

import contextlib
import gzip
import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from trainables.data.csv_parse import PIXELS, check_header, expected_columns, parse, validated_arrays
from trainables.errors import UserError

CACHE_FORMAT = 2


def default_cache_dir():
    root = os.environ.get("DIGIT_SWEEP_CACHE") or Path.home() / ".cache" / "digit-sweep"
    return Path(root)


def _memo_path(path, cache_dir):
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:32]
    return cache_dir / "hash-memo" / key


def content_hash(path):
    """sha256 of the file's bytes (read in 1 MB blocks: hashlib.file_digest needs Python 3.11)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _zip_member(path, zipped, labelled):
    """The member to read: train.csv / test.csv by name, or the archive's only CSV."""
    want = "train.csv" if labelled else "test.csv"
    members = [n for n in zipped.namelist() if n.lower().endswith(".csv") and not n.startswith("__MACOSX")]
    named = [n for n in members if Path(n).name.lower() == want]
    if len(named) == 1 or len(members) == 1:
        return (named or members)[0]
    held = ", ".join(members) or "no CSV file"
    raise UserError(f"{path}: a zip archive holding {held}; expected one {want} in it")


def _packing(path):
    with open(path, "rb") as raw:
        magic = raw.read(4)
    return "zip" if magic.startswith(b"PK\x03\x04") else "gzip" if magic.startswith(b"\x1f\x8b") else "plain"


@contextlib.contextmanager
def open_csv_bytes(path, labelled=True):
    """(binary stream of the CSV's bytes, name for messages), whether plain, gzipped or zipped."""
    path, packing = Path(path), _packing(path)
    if packing == "zip":
        try:
            zipped = zipfile.ZipFile(path)
        except zipfile.BadZipFile as error:
            raise UserError(f"{path}: not a valid zip archive ({error})") from None
        with zipped:
            member = _zip_member(path, zipped, labelled)
            with zipped.open(member) as stream:
                yield stream, f"{path}:{member}"
    else:
        with (gzip.open if packing == "gzip" else open)(path, "rb") as stream:
            yield stream, str(path)


@contextlib.contextmanager
def plain_csv(path, labelled=True):
    """(path of an uncompressed CSV, name for messages): compressed input is unpacked to a temp file."""
    if _packing(path) == "plain":
        yield Path(path), str(path)
        return
    with open_csv_bytes(path, labelled) as (stream, name), \
            tempfile.TemporaryDirectory(prefix="digit-sweep-csv-") as tmp:
        target = Path(tmp, "data.csv")
        try:
            with open(target, "wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
        except (OSError, EOFError, zipfile.BadZipFile) as error:  # gzip.BadGzipFile is an OSError
            raise UserError(f"{name}: cannot be unpacked ({error})") from None
        yield target, name


def _write_atomically(target, payload):
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, target)


def _to_cache_table(pixels, labels):
    # One fixed-size binary value of 784 bytes per image: a flat buffer that
    # Parquet reads back several times faster than a nested list column.
    flat = np.ascontiguousarray(pixels, dtype=np.uint8)
    images = pa.FixedSizeBinaryArray.from_buffers(pa.binary(PIXELS), len(flat), [None, pa.py_buffer(flat)])
    columns = {"pixels": images}
    if labels is not None:
        columns["label"] = pa.array(labels)
    return pa.table(columns)


def _from_cache_table(table):
    column = table.column("pixels").combine_chunks()
    images = np.frombuffer(column.buffers()[1], np.uint8, count=len(column) * PIXELS).reshape(-1, 28, 28, 1)
    labels = table.column("label").to_numpy().astype(np.int64) if "label" in table.column_names else None
    return images, labels


def _validated_cache_table(path, labelled):
    """The file as a cache table, or a UserError naming the first problem; writes nothing."""
    with plain_csv(path, labelled) as (plain, name):
        check_header(plain, labelled, name)
        try:
            table = parse(plain, labelled)
            if table.num_rows == 0:
                raise UserError(f"{plain}: has a header but no data rows")
            return _to_cache_table(*validated_arrays(plain, table, labelled))
        except UserError as error:  # the helpers name the plain file; the user knows the given one
            raise UserError(str(error).replace(str(plain), name, 1)) from None


def load_kaggle_csv(path, labelled=True, cache_dir=None):
    """Load a Kaggle CSV as (uint8 images (N, 28, 28, 1), int64 labels or None, content hash)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: file is empty")
    if not os.access(path, os.R_OK):
        raise UserError(f"{path}: cannot be read (permission denied)")
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    memo = _memo_path(path, cache_dir)
    digest = memo.read_text() if memo.exists() else content_hash(path)
    cached = cache_dir / f"{'train' if labelled else 'test'}-{digest}-v{CACHE_FORMAT}.parquet"
    if cached.exists():
        cache_table = pq.read_table(cached)
    else:
        cache_table = _validated_cache_table(path, labelled)
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        pq.write_table(cache_table, tmp, compression="lz4")  # reads ~3x faster than snappy, same size
        os.replace(tmp, cached)
    _write_atomically(memo, digest.encode())  # only for bytes that validated
    return (*_from_cache_table(cache_table), digest)


def count_data_rows(path, labelled=False):
    """Non-blank lines after the header, counted from the file itself and not from the parse:
    what a submission's row count is checked against."""
    with open_csv_bytes(path, labelled) as (stream, _):
        return sum(1 for line in stream if line.strip()) - 1


def write_kaggle_csv(path, images, labels=None):
    """Write images (and labels) in Kaggle's CSV format; used for tests and benchmarks."""
    flat = np.asarray(images).reshape(len(images), PIXELS).astype(np.int64)
    names = expected_columns(labels is not None)
    if labels is not None:
        flat = np.column_stack([np.asarray(labels, dtype=np.int64), flat])
    table = pa.table({name: flat[:, i] for i, name in enumerate(names)})
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="none"))
    return Path(path)
