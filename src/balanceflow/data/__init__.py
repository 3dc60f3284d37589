"""Balanced ``tf.data`` pipelines: a fresh balanced sample every epoch, without copying the data.

- :func:`balanced_dataset` draws balanced batches from in-memory arrays (any rank, or a dict
  of arrays), by under-sampling, over-sampling or interpolation made at batch time.
- :func:`balance` mixes per-class streams of a ``tf.data.Dataset`` that need not fit in
  memory (TFRecord or Parquet shards, image files) into balanced batches.

TensorFlow is imported when a pipeline is built, not when this module is imported.
"""

from balanceflow.data._in_memory import METHODS, balanced_dataset
from balanceflow.data._stream import balance

__all__ = ["METHODS", "balance", "balanced_dataset"]
