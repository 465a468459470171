"""``toeplitzkit verify``: run the theorem checks and print the theorem map with their outcome.

The checks are the tests marked ``@pytest.mark.thesis(key)`` with a key of the theorem
map (:mod:`toeplitzkit._theorems`, rendered as ``docs/theorems.md``): symbolic (sympy),
property-based (hypothesis), Monte Carlo and dense comparisons.  They live in the project's ``tests/``
directory, which ships with the source tree, not with an installed wheel.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any

from ._theorems import CITED

__all__ = ["find_tests_dir", "run_checks", "run"]


def find_tests_dir(start: str | Path | None = None) -> Path | None:
    """The project's ``tests/`` directory, or None when it cannot be found.

    Looks in ``start`` (default: the working directory) and its parents, then beside
    the package's source (an editable or source-tree install).

    Parameters
    ----------
    start : str or Path, optional
        Where to start looking.

    Returns
    -------
    Path or None
        A directory holding ``conftest.py`` and ``symbolic/``.

    Examples
    --------
    >>> from toeplitzkit.verify import find_tests_dir
    >>> d = find_tests_dir()
    >>> d is None or (d / "conftest.py").is_file()
    True
    """
    here = Path(start or os.getcwd()).resolve()
    candidates = [p / "tests" for p in (here, *here.parents)]
    candidates.append(Path(__file__).resolve().parents[2] / "tests")
    for c in candidates:
        if (c / "conftest.py").is_file() and (c / "symbolic").is_dir():
            return c
    return None


class _Collector:
    """pytest plugin: keep only the tests marked ``thesis`` and record each one's keys and outcome by node id.

    The files holding marked tests are passed to pytest and the marked tests selected
    here, so that a file that fails to import fails its rows instead of aborting the session.
    """

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, ...]] = {}
        self.outcomes: dict[str, str] = {}
        self.failures: list[tuple[str, list[str]]] = []

    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        keep: list[Any] = []
        drop: list[Any] = []
        for it in items:
            keys = tuple(k for m in it.iter_markers("thesis") for k in m.args)
            (keep if keys else drop).append(it)
            if keys:
                self.keys[it.nodeid] = keys
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or report.outcome != "passed":
            prev = self.outcomes.get(report.nodeid)
            if prev != "failed":
                self.outcomes[report.nodeid] = report.outcome
            if report.outcome == "failed":
                self.failures.append((report.nodeid, str(report.longrepr).splitlines()[-1:]))

    def pytest_collectreport(self, report: Any) -> None:
        if report.outcome == "failed":
            self.outcomes[report.nodeid] = "failed"
            self.failures.append((report.nodeid, str(report.longrepr).splitlines()[-1:]))


def run_checks(tests_dir: str | Path, profile: str = "ci",
               verbose: bool = False) -> tuple[dict[str, str], list[tuple[str, list[str]]]]:
    """Run every test marked ``@pytest.mark.thesis``; return ``{row key: status}`` and the failures.

    The marked tests are found by parsing the test files (:func:`toeplitzkit._theorems.marked_tests`);
    pytest runs only the files that hold them and keeps only the marked tests.

    Parameters
    ----------
    tests_dir : str or Path
        The project's ``tests/`` directory.
    profile : {'ci', 'thorough'}
        Hypothesis profile (``HYPOTHESIS_PROFILE`` for the run).
    verbose : bool
        Show pytest's own output.

    Returns
    -------
    status : dict
        Row key -> ``'pass'``, ``'FAIL'``, ``'skipped'``, ``'not run'`` or ``'cited'``.
    failures : list of (node id, message lines)

    Examples
    --------
    >>> from toeplitzkit.verify import run_checks  # doctest: +SKIP
    >>> status, failures = run_checks("tests")  # doctest: +SKIP
    """
    import pytest

    from ._theorems import THEOREMS, marked_tests, node_ids_by_key
    from ._validation import check_option

    check_option(profile, "profile", ("ci", "thorough"))
    tests_dir = Path(tests_dir).resolve()
    root = tests_dir.parent
    marked = marked_tests(tests_dir)
    expected = node_ids_by_key(marked)
    files = list(dict.fromkeys(str(t.path) for t in marked))
    args = ["-p", "no:cacheprovider", "--rootdir", str(root), "-q", "--continue-on-collection-errors"]
    if (root / "pyproject.toml").is_file():
        args += ["-c", str(root / "pyproject.toml")]
    args += files
    collector = _Collector()
    old_env = os.environ.get("HYPOTHESIS_PROFILE")
    old_cwd = os.getcwd()
    os.environ["HYPOTHESIS_PROFILE"] = profile
    sink = io.StringIO()
    try:
        os.chdir(root)
        with contextlib.ExitStack() as stack:
            if not verbose:
                stack.enter_context(contextlib.redirect_stdout(sink))
                stack.enter_context(contextlib.redirect_stderr(sink))
            code = pytest.main(args, plugins=[collector]) if files else 0
    finally:
        os.chdir(old_cwd)
        if old_env is None:
            os.environ.pop("HYPOTHESIS_PROFILE", None)
        else:
            os.environ["HYPOTHESIS_PROFILE"] = old_env
    if code not in (0, 1) and not collector.outcomes:
        tail = sink.getvalue().splitlines()[-5:]
        collector.failures.append(("pytest", [f"pytest exited with status {int(code)}", *tail]))
    # a file that failed to import reports under its own path: its marked tests fail with it
    by_key: dict[str, list[str]] = {}
    for nid, outcome in collector.outcomes.items():
        keys = collector.keys.get(nid) or collector.keys.get(nid.split("[")[0])
        if keys is None:
            keys = tuple(k for k, ids in expected.items() for t in ids if t.split("::")[0] == nid)
        for k in keys:
            by_key.setdefault(k, []).append(outcome)
    status = {}
    for r in THEOREMS:
        results = by_key.get(r.key, [])
        if not results and not expected.get(r.key):
            status[r.key] = "cited" if r.finding == CITED else "not run"
        elif not results:
            status[r.key] = "not run"
        elif "failed" in results:
            status[r.key] = "FAIL"
        elif all(o == "skipped" for o in results):
            status[r.key] = "skipped"
        else:
            status[r.key] = "pass"
    return status, collector.failures


def _table(status: dict[str, str]) -> str:
    from ._theorems import THEOREMS

    rows = [(r.key, r.statement if len(r.statement) <= 60 else r.statement[:57] + "...", r.finding,
             status.get(r.key, "-")) for r in THEOREMS]
    head = ("result", "statement", "finding", "status")
    widths = [max(len(h), *(len(x[i]) for x in rows)) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths), *(fmt(x) for x in rows)])


def run(thorough: bool = False, tests_dir: str | Path | None = None, verbose: bool = False) -> int:
    """Run the theorem checks, print the theorem map with pass/fail, return the exit status.

    Parameters
    ----------
    thorough : bool
        Use the hypothesis profile ``'thorough'`` (500 examples) instead of ``'ci'``.
    tests_dir : str or Path, optional
        The project's ``tests/`` directory (default: :func:`find_tests_dir`).
    verbose : bool
        Show pytest's output.

    Returns
    -------
    int
        0 when every check passed, 1 when one failed, 2 when the tests or
        pytest/sympy/hypothesis are missing (one line on stderr).

    Examples
    --------
    >>> from toeplitzkit.verify import run
    >>> run(tests_dir="/nonexistent")
    2
    """
    import importlib.util

    tests = Path(tests_dir) if tests_dir is not None else find_tests_dir()
    if tests is None or not (tests / "conftest.py").is_file():
        where = f" at {tests_dir}" if tests_dir is not None else ""
        print(f"toeplitzkit verify: the tests directory was not found{where}; the theorem checks ship with the "
              "source tree (git clone, then run from it or pass --tests-dir)", file=sys.stderr)
        return 2
    missing = [m for m in ("pytest", "hypothesis", "sympy") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"toeplitzkit verify: needs {', '.join(missing)}: pip install 'toeplitzkit[test]'", file=sys.stderr)
        return 2
    profile = "thorough" if thorough else "ci"
    print(f"running the theorem checks in {tests} (hypothesis profile {profile!r}) ...", flush=True)
    status, failures = run_checks(tests, profile, verbose)
    print(_table(status))
    n_fail = sum(v == "FAIL" for v in status.values())
    n_missing = sum(v == "not run" for v in status.values())
    n_skipped = sum(v == "skipped" for v in status.values())
    for nid, msg in failures:
        print(f"FAILED {nid}: {' '.join(msg)}")
    print(f"{sum(v == 'pass' for v in status.values())} results pass, {n_fail} fail, {n_missing} not run, "
          f"{n_skipped} skipped (an optional dependency is missing), "
          f"{sum(v == 'cited' for v in status.values())} cited")
    return 1 if (n_fail or n_missing or failures) else 0
