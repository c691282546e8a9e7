"""Tiny next-up encoders for the fuzz seeds (tests/fuzz/seeds.rs).

Each honours the encoder contract (int64 [1, max_len] tokens -> f32 [1, dim])
with one Gather over an embedding table and a second Gather taking the last
position: a few hundred bytes, so tract loads it in well under a millisecond
per fuzz run, and it uses only operators the engine accepts in an encoder.
Token t = catalog row + 1 maps to table row t; row 0 (padding) is zero.

    ../../../.venv/bin/python make.py   # writes gather-last-<rows>.onnx
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DIM = 3


def encoder(rows):
    # Row t is the unit vector of axis (t - 1) % DIM, so answers are easy to work out.
    table = np.zeros((rows, DIM), dtype=np.float32)
    for t in range(1, rows):
        table[t, (t - 1) % DIM] = 1.0
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["table", "tokens"], ["embedded"], axis=0),
            helper.make_node("Gather", ["embedded", "last"], ["query"], axis=1),
        ],
        "gather_last",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, "max_len"])],
        [helper.make_tensor_value_info("query", TensorProto.FLOAT, [1, DIM])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array(-1, dtype=np.int64), "last")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgerec-fuzz")
    onnx.checker.check_model(model)
    return model


# 7 rows: every item of the 6-item hand-made bundle; 3 rows: only its first two.
for rows in (7, 3):
    onnx.save(encoder(rows), f"gather-last-{rows}.onnx")
