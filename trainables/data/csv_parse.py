"""A plain Kaggle CSV parsed strictly: the header, then every value as an integer in its range, or
a UserError naming the file, the line (1-based, the header is line 1) and the column of the first
problem. Opening packed files and caching the result are trainables/data/kaggle_csv.py's.
"""

import csv

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from trainables.errors import UserError

PIXELS = 784
PIXEL_COLUMNS = [f"pixel{i}" for i in range(PIXELS)]
# Arrow parses 785 narrow columns fastest in blocks of a few MB (measured: 1 MB is ~25% slower).
BLOCK_SIZE = 8 << 20


def expected_columns(labelled):
    return (["label"] if labelled else []) + PIXEL_COLUMNS


def _text(path):
    # utf-8-sig: Excel's "CSV UTF-8" starts with a byte-order mark.
    return open(path, newline="", encoding="utf-8-sig")


def _locate_bad_line(path, n_columns):
    """Slow path, run only after a failed parse: the first line with the wrong field count."""
    with _text(path) as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if len(row) != n_columns:
                return line_no, len(row)
    return None, None


def check_header(path, labelled, name=None):
    name = name or path
    try:
        with _text(path) as handle:
            header = next(csv.reader(handle), None)
    except UnicodeDecodeError as error:
        raise UserError(f"{name}: not CSV text (byte 0x{error.object[error.start]:02x} at offset "
                        f"{error.start} is not UTF-8)") from None
    except csv.Error as error:
        raise UserError(f"{name}: line 1 is not CSV text ({error})") from None
    if header is None:
        raise UserError(f"{name}: file is empty")
    expected = expected_columns(labelled)
    if len(header) != len(expected):
        raise UserError(
            f"{name}: line 1 (header) has {len(header)} columns, expected {len(expected)} "
            f"({expected[0]},{expected[1]},...,{expected[-1]})"
        )
    for position, (got, want) in enumerate(zip(header, expected), start=1):
        if got.strip() != want:
            raise UserError(
                f"{name}: line 1 (header), column {position} is {got!r}, expected {want!r}"
            )


def _read(path, names, value_type):
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_SIZE),
        convert_options=pacsv.ConvertOptions(
            column_types={name: value_type for name in names}, strings_can_be_null=True,
        ),
    )


def parse(path, labelled):
    """The CSV as a table of uint8 columns, or a UserError naming the first bad line and column.

    Parsing straight to uint8 lets Arrow reject anything outside 0..255 while it
    parses; only a file that fails is read again, as int32 and then row by row,
    to say where.
    """
    names = expected_columns(labelled)
    try:
        return _read(path, names, pa.uint8())
    except pa.ArrowInvalid:
        pass
    try:
        table = _read(path, names, pa.int32())
    except pa.ArrowInvalid as error:
        line_no, width = _locate_bad_line(path, len(names))
        if line_no is not None:
            raise UserError(
                f"{path}: line {line_no} has {width} columns, expected {len(names)}"
            ) from None
        raise UserError(f"{path}: {_first_bad_value(path, names) or error}") from None
    validated_arrays(path, table, labelled, pixel_range=(0, 255))
    raise UserError(f"{path}: could not be read as integers 0..255")


def _first_bad_value(path, names):
    with _text(path) as handle:
        reader = csv.reader(handle)
        next(reader)
        for line_no, row in enumerate(reader, start=2):
            for name, value in zip(names, row):
                try:
                    int(value)
                except ValueError:
                    return f"line {line_no}, column {name!r}: {value!r} is not an integer"
    return None


def _first_null(path, table):
    for name in table.column_names:
        column = table.column(name)
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise UserError(f"{path}: line {row + 2}, column {name!r}: missing value")


def _check_range(path, values, names, low, high):
    bad = (values < low) | (values > high)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise UserError(
            f"{path}: line {row + 2}, column {names[col]!r}: value {values[row, col]} "
            f"is outside {low}..{high}"
        )


def validated_arrays(path, table, labelled, pixel_range=None):
    """Check for gaps and ranges; return (pixel matrix, labels or None) in the table's type.

    A uint8 table needs no pixel range check: Arrow already refused anything outside 0..255.
    """
    _first_null(path, table)
    labels = None
    if labelled:
        labels = table.column("label").to_numpy()
        _check_range(path, labels[:, None], ["label"], 0, 9)
    pixels = np.column_stack([table.column(n).to_numpy() for n in PIXEL_COLUMNS])
    if pixel_range:
        _check_range(path, pixels, PIXEL_COLUMNS, *pixel_range)
    return pixels, labels
