"""Sequential (next-item) recommenders trained in JAX and exported to ONNX.

Imports are lazy so that ``python -m models.sequence.lstm`` does not load the
module twice.
"""

__all__ = ["NextUpModel", "onnx_query", "train_next_up"]


def __getattr__(name):
    if name in __all__:
        from . import lstm

        return getattr(lstm, name)
    raise AttributeError(name)
