"""Item matrices as bundles store them: int8 with a scale per row, or f32."""

import tempfile
import unittest
from pathlib import Path

import numpy as np

from models import bundle


class ItemMatrixTest(unittest.TestCase):
    def test_int8_rows_are_within_half_a_step_of_the_f32_values(self):
        matrix = np.random.default_rng(0).normal(size=(300, 64)).astype(np.float32)
        matrix[7] = 0.0
        name, data, spec, seen = bundle.item_matrix("item_embeddings", matrix, "i8")
        self.assertEqual(name, "item_embeddings.i8")
        self.assertEqual(spec, {"file": name, "rows": 300, "cols": 64, "dtype": "i8"})
        self.assertEqual(len(data), 300 * 64 + 4 * 300, "int8 values, then one f32 scale per row")
        values = np.frombuffer(data[: 300 * 64], np.int8).reshape(300, 64)
        scales = np.frombuffer(data[300 * 64:], "<f4")
        np.testing.assert_array_equal(seen, values.astype(np.float32) * scales[:, None])
        self.assertEqual(np.abs(values).max(), 127)
        step = np.abs(matrix).max(axis=1) / 127
        self.assertTrue((np.abs(seen - matrix) <= step[:, None] / 2 + 1e-7).all())
        self.assertEqual(scales[7], 0.0)
        self.assertFalse(seen[7].any(), "an all-zero row stays zero")
        self.assertLessEqual(len(data), 0.3 * matrix.nbytes)
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / name).write_bytes(data)
            np.testing.assert_array_equal(bundle.read_item_matrix(folder, spec), seen)

    def test_f32_is_stored_as_it_is_and_unknown_dtypes_are_refused(self):
        matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
        name, data, spec, seen = bundle.item_matrix("item_factors", matrix, "f32")
        self.assertEqual((name, spec["dtype"], data), ("item_factors.f32", "f32", matrix.tobytes()))
        np.testing.assert_array_equal(seen, matrix)
        with self.assertRaises(ValueError):
            bundle.item_matrix("item_factors", matrix, "f16")


if __name__ == "__main__":
    unittest.main()
