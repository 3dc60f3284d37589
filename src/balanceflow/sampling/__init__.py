"""Index-based samplers: random over- and under-sampling, and ``sampling_strategy``.

Samplers expose ``sample_indices_``: the positions of the output rows in the input. numpy
resampling, ``tf.data`` pipelines and ensembles share them.
"""

from balanceflow.sampling._api import SAMPLERS, get_sampler, resample
from balanceflow.sampling._base import BaseSampler
from balanceflow.sampling._random import RandomOverSampler, RandomUnderSampler
from balanceflow.sampling._strategy import KEYWORDS, resolve_sampling_strategy

__all__ = [
    "KEYWORDS",
    "SAMPLERS",
    "BaseSampler",
    "RandomOverSampler",
    "RandomUnderSampler",
    "get_sampler",
    "resample",
    "resolve_sampling_strategy",
]
