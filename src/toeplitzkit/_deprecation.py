"""Keyword arguments renamed for one release.

The bounds share SciPy's argument names (``maxiter`` for iteration counts, ``rtol``
for relative tolerances).  A renamed keyword keeps working for one release: the old
name is mapped onto the new one with a :class:`DeprecationWarning` naming both.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, TypeVar, cast

__all__ = ["renamed_parameters"]

F = TypeVar("F", bound=Callable[..., Any])


def renamed_parameters(**renames: str) -> Callable[[F], F]:
    """Decorator: accept each old keyword ``old=new`` for one release, with a DeprecationWarning.

    Parameters
    ----------
    **renames : str
        ``old_name="new_name"`` pairs.

    Returns
    -------
    callable
        A decorator that maps the old keywords onto the new ones and keeps the wrapped
        function's name, docstring and signature (``inspect.signature`` shows the new
        names only).  Passing both names raises ``TypeError``.

    Examples
    --------
    >>> import warnings
    >>> @renamed_parameters(n_iter="maxiter")
    ... def f(x, maxiter=10):
    ...     return x + maxiter
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     f(1, n_iter=2)
    3
    >>> print(caught[0].message)
    f(): the keyword 'n_iter' is deprecated and will be removed in the next release; use 'maxiter'
    """
    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{fn.__name__}() got both {old!r} and its new name {new!r}; "
                                        f"pass only {new!r}")
                    warnings.warn(f"{fn.__name__}(): the keyword {old!r} is deprecated and will be removed "
                                  f"in the next release; use {new!r}", DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        # functools.wraps keeps the signature that inspect shows, so the wrapper passes for ``fn``
        return cast(F, wrapper)

    return decorate
