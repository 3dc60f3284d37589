"""Register balanceflow's Keras objects whenever Keras is loaded.

``import balanceflow`` must stay light (no TensorFlow), yet a ``.keras`` file that holds a
balanceflow layer must load with plain ``keras.models.load_model(path, safe_mode=True)``
once balanceflow is imported, whichever of the two was imported first. So: if Keras is
already loaded, register now; otherwise register right after Keras finishes loading, via a
one-shot import hook that hands the import back to Python's own machinery.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["install", "register"]

# Modules whose import registers serialisable Keras objects.
_REGISTERING_MODULES = (
    "balanceflow.ensemble._layers",
    "balanceflow.losses",
    "balanceflow.layers",
    "balanceflow.callbacks",
    "balanceflow.models._tabm",
)


def register() -> None:
    """Import every module that registers balanceflow's Keras objects.

    A module already imported, or being imported right now, is skipped: it registers its
    own objects. When Keras is first loaded from inside one of these packages (say
    ``balanceflow.losses``), a sibling that imports it (``balanceflow.callbacks``) cannot
    be imported yet; it is skipped here, and the package calls ``register()`` again once
    it has finished loading.
    """
    for name in _REGISTERING_MODULES:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except ImportError:
            if not any(_initializing(m) for m in _REGISTERING_MODULES):
                raise


def _initializing(name: str) -> bool:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


class _AfterKerasLoader(importlib.abc.Loader):
    """Runs Keras' own loader, then registers balanceflow's objects."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        register()

    def __getattr__(self, name):  # get_resource_reader, is_package, ...
        return getattr(self._loader, name)


class _KerasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        _remove_finder()
        spec = importlib.util.find_spec("keras")
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _AfterKerasLoader(spec.loader)
        return spec


def _remove_finder() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _KerasFinder)]


def install() -> None:
    """Register now if Keras is loaded, else once it is."""
    if "keras" in sys.modules:
        register()
    elif not any(isinstance(f, _KerasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _KerasFinder())
