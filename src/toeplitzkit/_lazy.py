"""Lazy exports for the subpackages: a name is imported from its module on first access.

Keeps ``import toeplitzkit.bounds`` from compiling Numba kernels or importing
hypothesis until a function that needs them is used.
"""

from __future__ import annotations

import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package: str, namespace: dict, table: dict):
    """Return ``(__getattr__, __dir__)`` for ``package`` exporting ``table`` (name -> module).

    ``namespace`` is the package's ``globals()``: a loaded name is cached there, so the
    module-level ``__getattr__`` runs once per name.
    """

    def __getattr__(name):
        if name in table:
            value = getattr(importlib.import_module(f".{table[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
