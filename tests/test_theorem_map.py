"""The theorem map (docs/theorems.md) is current, and every function and test it names exists."""

import subprocess
import sys
from pathlib import Path

import pytest

from toeplitzkit import _theorems

ROOT = Path(__file__).resolve().parents[1]


def test_markdown_is_current():
    page = (ROOT / "docs" / "theorems.md").read_text()
    assert page == _theorems.render_markdown(), (
        "docs/theorems.md is stale: run `python -m toeplitzkit._theorems > docs/theorems.md`"
    )


@pytest.mark.parametrize("name", sorted({f for r in _theorems.THEOREMS for f in r.functions}))
def test_named_function_exists(name):
    obj = _theorems.resolve(name)
    assert callable(obj) or isinstance(obj, (dict, tuple, list)), name


def test_required_results_are_present():
    keys = " ".join(r.key for r in _theorems.THEOREMS)
    required = ["Thm 2.1", "Thm 2.2", "Thm 2.3", "Thm 2.4", "Eq 2.30-2.31", "Thm 3.2", "Thm 3.6-3.7", "Thm 3.8",
                "Prop 3.1", "Prop 3.2", "Prop 3.3", "Thm 4.1", "Thm 4.2", "Thm 4.3", "Lemma 4.3", "Lemma 4.4",
                "Prop 4.1", "Prop 4.2", "Cor 4.2", "Thm 5.1", "Thm 5.2", "Thm 5.3", "Thm 5.4", "Thm 5.5",
                "Lemma 5.1", "Lemma 5.2", "Lemma 5.3", "Lemma 5.4", "Lemma 5.5", "Lemma 5.6", "Eq 5.50",
                "Eq 5.51-5.52", "Lemma A.1"]
    missing = [k for k in required if k not in keys]
    assert not missing, missing
    for r in _theorems.THEOREMS:
        assert r.finding in (_theorems.HOLDS, _theorems.CORRECTED, _theorems.ERRATUM, _theorems.CITED), r.key
        assert r.tests or r.finding == _theorems.CITED, f"{r.key} names no test"
        if r.finding in (_theorems.CORRECTED, _theorems.ERRATUM):
            assert r.note, f"{r.key}: an erratum needs its note"


def test_named_tests_are_collected():
    files = sorted({t.split("::")[0] for r in _theorems.THEOREMS for t in r.tests})
    missing_files = [f for f in files if not (ROOT / f).is_file()]
    assert not missing_files, missing_files
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    collected = {line.strip().split("[")[0] for line in proc.stdout.splitlines() if "::" in line}
    named = {t for r in _theorems.THEOREMS for t in r.tests}
    absent = sorted(t for t in named if t not in collected)
    assert not absent, f"tests named in the theorem map but not collected: {absent}"
