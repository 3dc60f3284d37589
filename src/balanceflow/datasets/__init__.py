"""Real imbalanced datasets shipped with balanceflow, and their loaders.

Needs numpy and pandas only (plus scikit-learn's bundled digits for :func:`digits_lt`);
nothing is downloaded and nothing imports TensorFlow or Keras.

- :func:`names`, :func:`load`, :func:`describe`, :func:`description`: six binary datasets
  from the KEEL imbalanced repository, with imbalance ratios from 1.86 to 100.14.
- :func:`read_keel`: the parser of KEEL's ``.dat`` format, for other KEEL files.
- :func:`digits_lt`: a long-tailed 10-class image set with a balanced test split.
"""

from balanceflow.datasets._digits import digits_lt
from balanceflow.datasets._keel import describe, description, load, names, read_keel

__all__ = ["describe", "description", "digits_lt", "load", "names", "read_keel"]
