"""Import Keras without TensorFlow's native start-up notices on stderr."""

from __future__ import annotations

import os
import sys

__all__ = ["import_keras_quietly"]


def import_keras_quietly() -> None:
    """Import Keras (and TensorFlow) with native stderr muted.

    TensorFlow's C++ start-up notices are written before its logging is configured, so
    ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; they would bury a command's output (and
    each worker process would print them again). An import error still raises, and its
    traceback prints once stderr is back.
    """
    if "keras" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import keras  # noqa: F401
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
