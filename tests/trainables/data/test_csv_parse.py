import numpy as np
import pyarrow as pa

from trainables.data import csv_parse
from trainables.data.kaggle_csv import write_kaggle_csv


def test_a_clean_file_parses_straight_to_uint8_with_its_values(tiny_data, tmp_path):
    # The fast path: Arrow parses to uint8 and so refuses anything outside 0..255 by itself.
    images, labels = tiny_data.x_train[:7], tiny_data.y_train[:7]
    for labelled, path in [(True, write_kaggle_csv(tmp_path / "train.csv", images, labels)),
                           (False, write_kaggle_csv(tmp_path / "test.csv", images))]:
        csv_parse.check_header(path, labelled)
        table = csv_parse.parse(path, labelled)
        assert table.column_names == csv_parse.expected_columns(labelled)
        assert {field.type for field in table.schema} == {pa.uint8()}
        pixels, parsed_labels = csv_parse.validated_arrays(path, table, labelled)
        np.testing.assert_array_equal(pixels, images.reshape(7, csv_parse.PIXELS))
        if labelled:
            np.testing.assert_array_equal(parsed_labels, labels)
        else:
            assert parsed_labels is None
