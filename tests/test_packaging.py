"""Package-level rules: the numpy core needs no TensorFlow, and imports flow one way."""

import ast
import subprocess
import sys
from pathlib import Path

import balanceflow

PACKAGE = Path(balanceflow.__file__).parent

BLOCK_TF = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"tensorflow", "keras", "jax", "torch"}:
            raise ImportError(f"blocked for this test: {name}")
sys.meta_path.insert(0, Block())
"""


def test_numpy_core_works_without_tensorflow():
    """Check, in a process where TensorFlow and Keras cannot be imported, that the numpy
    core imports and runs."""
    code = (
        BLOCK_TF
        + """
import numpy as np
import balanceflow as bf
y = np.array([0] * 90 + [1] * 10)
X, y_res = bf.resample(np.zeros((100, 2)), y, method="under", seed=0)
assert np.bincount(y_res).tolist() == [10, 10]
assert bf.class_weight(y) == {0: 100 / 180, 1: 100 / 20}
report = bf.evaluate(y, np.where(y == 1, 0.9, 0.1))
assert report.pr_auc == 1.0
Xk, yk = bf.datasets.load("new-thyroid1")
assert len(yk) == 215
from balanceflow.training import Recipe
def my_model(input_shape, n_classes):
    pass
# Naming a model (every compare does, in its settings) must not start Keras either.
assert Recipe(model_fn=my_model).settings()["model"].endswith("my_model")
assert Recipe(model_fn=bf.models.tabm).settings()["model"] == "tabm"
assert "tensorflow" not in sys.modules and "keras" not in sys.modules
print("ok")
"""
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# Each subpackage's layer; imports may only go to the same or a lower layer.
LAYERS = {
    "_validation": 0,
    "exceptions": 0,
    "sampling": 0,
    "weights": 0,
    "metrics": 0,
    "thresholds": 0,
    "datasets": 0,
    "_keras_hook": 0,
    "_quiet": 0,
    "_models": 1,
    "models": 1,
    "layers": 1,
    "losses": 1,
    "data": 1,
    "callbacks": 1,
    "ensemble": 2,
    "strategies": 3,
    "training": 4,
    "model_selection": 5,
    "report": 6,
    "cli": 7,
}
CORE_LAYER = 0


def _imports(tree):
    """(module name, at module top level?) for every balanceflow/keras/tensorflow import."""
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, id(node) in top


def test_imports_flow_one_way_and_core_has_no_top_level_tensorflow():
    problems = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts == ("__init__",):
            continue
        layer = LAYERS[parts[0]]
        for module, at_top in _imports(ast.parse(path.read_text())):
            root = module.split(".")
            internal = root[0] == "balanceflow" and len(root) > 1 and root[1] in LAYERS
            if internal and LAYERS[root[1]] > layer:
                problems.append(f"{path.name} (layer {layer}) imports {module}")
            if layer == CORE_LAYER and at_top and root[0] in {"tensorflow", "keras"}:
                problems.append(
                    f"core module {path.name} imports {module} at import time"
                )
    assert not problems, problems
