import gzip
import zipfile

import numpy as np
import pytest

from trainables.data import kaggle_csv
from trainables.errors import UserError
from trainables.data.kaggle_csv import load_kaggle_csv, write_kaggle_csv


@pytest.fixture
def digits(tiny_data):
    return tiny_data.x_train[:20], tiny_data.y_train[:20]


@pytest.fixture
def train_csv(tmp_path, digits):
    return write_kaggle_csv(tmp_path / "train.csv", *digits)


def cache_files(cache):
    return sorted(p.name for p in cache.glob("*.parquet")) if cache.exists() else []


def test_round_trip_and_cache(train_csv, digits, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    images, labels, digest = load_kaggle_csv(train_csv, cache_dir=cache)
    np.testing.assert_array_equal(images, digits[0])
    np.testing.assert_array_equal(labels, digits[1])
    assert cache_files(cache) == [f"train-{digest}-v{kaggle_csv.CACHE_FORMAT}.parquet"]

    def no_parse(*_):
        raise AssertionError("a cached load must not parse the CSV")

    monkeypatch.setattr(kaggle_csv, "parse", no_parse)  # the name kaggle_csv calls
    again, again_labels, again_digest = load_kaggle_csv(train_csv, cache_dir=cache)
    assert again_digest == digest
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(again_labels, labels)


def test_changed_content_is_not_served_from_cache(train_csv, digits, tmp_path):
    cache = tmp_path / "cache"
    load_kaggle_csv(train_csv, cache_dir=cache)
    write_kaggle_csv(train_csv, digits[0][:5], digits[1][:5])
    images, _, _ = load_kaggle_csv(train_csv, cache_dir=cache)
    assert len(images) == 5
    assert len(cache_files(cache)) == 2


def test_unlabelled_test_csv(tmp_path, digits):
    path = write_kaggle_csv(tmp_path / "test.csv", digits[0])
    images, labels, _ = load_kaggle_csv(path, labelled=False, cache_dir=tmp_path / "cache")
    assert labels is None and images.shape == (20, 28, 28, 1)


def rewrite(path, edit):
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")


def set_cell(line_index, column, value):
    def edit(lines):
        cells = lines[line_index].split(",")
        cells[column] = value
        lines[line_index] = ",".join(cells)
    return edit


BAD_INPUTS = {
    "header only": (lambda lines: lines.__delitem__(slice(1, None)), ["no data rows"]),
    "wrong header name": (set_cell(0, 3, "pixelX"), ["line 1", "column 4", "pixelX"]),
    "missing column in header": (lambda lines: lines.__setitem__(0, lines[0].rsplit(",", 1)[0]), ["line 1", "784 columns"]),
    "short row": (lambda lines: lines.__setitem__(4, lines[4].rsplit(",", 1)[0]), ["line 5", "784 columns"]),
    "long row": (lambda lines: lines.__setitem__(3, lines[3] + ",0"), ["line 4", "786 columns"]),
    "non-numeric pixel": (set_cell(6, 100, "abc"), ["line 7", "pixel99", "'abc'"]),
    "fractional pixel": (set_cell(2, 10, "1.5"), ["line 3", "pixel9", "'1.5'"]),
    "pixel above 255": (set_cell(9, 200, "256"), ["line 10", "pixel199", "256", "0..255"]),
    "negative pixel": (set_cell(8, 1, "-1"), ["line 9", "pixel0", "0..255"]),
    "label outside 0..9": (set_cell(5, 0, "10"), ["line 6", "'label'", "0..9"]),
    "empty cell": (set_cell(11, 50, ""), ["line 12", "pixel49", "missing"]),
    "NaN cell": (set_cell(12, 51, "NaN"), ["line 13", "pixel50"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_names_the_place_and_writes_nothing(case, train_csv, tmp_path):
    edit, expected = BAD_INPUTS[case]
    rewrite(train_csv, edit)
    cache = tmp_path / "cache"
    with pytest.raises(UserError) as error:
        load_kaggle_csv(train_csv, cache_dir=cache)
    message = str(error.value)
    assert str(train_csv) in message
    for fragment in expected:
        assert fragment in message, message
    assert not cache.exists() or list(cache.rglob("*")) == []  # no Parquet, no hash memo


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_kaggle_csv(tmp_path / "absent.csv", cache_dir=tmp_path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(UserError, match="empty.csv: file is empty"):
        load_kaggle_csv(empty, cache_dir=tmp_path)


def kaggle_zip(path, train_csv, test_csv):
    """Kaggle's download: digit-recognizer.zip holding train.csv, test.csv and sample_submission.csv."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(train_csv, "train.csv")
        archive.write(test_csv, "test.csv")
        archive.writestr("sample_submission.csv", "ImageId,Label\n1,0\n")
    return path


def test_kaggle_zip_gives_train_and_test_csv(train_csv, digits, tmp_path):
    test_csv = write_kaggle_csv(tmp_path / "test.csv", digits[0][:7])
    archive = kaggle_zip(tmp_path / "digit-recognizer.zip", train_csv, test_csv)
    images, labels, _ = load_kaggle_csv(archive, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(labels, digits[1])
    test_images, test_labels, _ = load_kaggle_csv(archive, labelled=False, cache_dir=tmp_path / "cache")
    assert test_labels is None and len(test_images) == 7
    assert kaggle_csv.count_data_rows(archive) == 7


def test_zip_without_the_wanted_member_names_what_it_holds(train_csv, tmp_path):
    archive = tmp_path / "mine.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(train_csv, "a.csv")
        zipped.write(train_csv, "b.csv")
    with pytest.raises(UserError, match=r"mine.zip: a zip archive holding a.csv, b.csv; expected one test.csv"):
        load_kaggle_csv(archive, labelled=False, cache_dir=tmp_path / "cache")


def test_bad_row_inside_a_zip_names_archive_member_and_line(train_csv, tmp_path):
    rewrite(train_csv, set_cell(3, 5, "300"))
    archive = tmp_path / "digit-recognizer.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(train_csv, "train.csv")
    with pytest.raises(UserError, match=r"digit-recognizer.zip:train.csv: line 4, column 'pixel4'"):
        load_kaggle_csv(archive, cache_dir=tmp_path / "cache")


def test_gzipped_csv_and_excel_bom_with_crlf(train_csv, digits, tmp_path):
    gz = tmp_path / "train.csv.gz"
    gz.write_bytes(gzip.compress(train_csv.read_bytes()))
    np.testing.assert_array_equal(load_kaggle_csv(gz, cache_dir=tmp_path / "c1")[1], digits[1])
    excel = tmp_path / "excel.csv"
    excel.write_bytes(b"\xef\xbb\xbf" + train_csv.read_bytes().replace(b"\n", b"\r\n"))
    np.testing.assert_array_equal(load_kaggle_csv(excel, cache_dir=tmp_path / "c2")[0], digits[0])


@pytest.mark.parametrize("content, expected", [
    (bytes(range(256)) * 4, "not CSV text"),  # a binary file
    ("label,pixel0\n".encode("utf-16"), "not CSV text"),  # text, but not UTF-8
    (b"label,pixel0\x00\n1,2\n", "line 1"),
    (b"\x1f\x8b\x08\x00garbage", "cannot be unpacked"),  # gzip magic, broken stream
])
def test_files_that_are_not_csv_text_get_one_message(content, expected, tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(content)
    with pytest.raises(UserError, match=expected) as error:
        load_kaggle_csv(path, cache_dir=tmp_path / "cache")
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "cache").exists()
