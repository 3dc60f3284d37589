"""Shared test set-up: quiet TensorFlow, deterministic Keras, small data builders."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import pytest

# The backend is fixed when Keras is imported. Modules written for the JAX backend run in
# the JAX pass of `make test` (KERAS_BACKEND=jax); the TensorFlow pass leaves them out.
collect_ignore = (
    [] if os.environ["KERAS_BACKEND"] == "jax" else ["training/test_fused_jax.py"]
)


def _two_logical_cpus() -> None:
    """Split the CPU into 2 logical devices before TensorFlow starts, so that
    tf.distribute.MirroredStrategy tests run with 2 replicas on any machine."""
    if os.environ["KERAS_BACKEND"] != "tensorflow":
        return
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )


_two_logical_cpus()


@pytest.fixture
def binary_data():
    """300 rows, 4 features, about 10% positives that depend on the first feature."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype("float32")
    y = (X[:, 0] + 0.3 * rng.normal(size=300) > 1.2).astype(int)
    return X, y


@pytest.fixture
def run_script(tmp_path):
    """Run a script in a fresh Python process; return the words of its RESULT line.

    For checks that need a process of their own: worker pools, Dask clusters, or a parent
    that must not start TensorFlow.
    """
    import subprocess
    import sys
    import textwrap

    def run(body: str, timeout: int = 300) -> list[str]:
        path = tmp_path / "check.py"
        path.write_text(textwrap.dedent(body))
        out = subprocess.run(
            [sys.executable, str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        line = [x for x in out.stdout.splitlines() if x.startswith("RESULT")]
        assert line, out.stderr[-3000:]
        return line[0].split()[1:]

    return run
