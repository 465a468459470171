"""The theorem map (docs/theorems.md) is current, every function it names exists, every row has a test
marked ``@pytest.mark.thesis(key)`` and every marker names a row.  The markers are read with ``ast``:
no pytest subprocess."""

import ast
import textwrap
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
        if r.finding in (_theorems.CORRECTED, _theorems.ERRATUM):
            assert r.note, f"{r.key}: an erratum needs its note"


MARKED = _theorems.marked_tests(ROOT / "tests")
BY_KEY = _theorems.node_ids_by_key(MARKED)
ROW_KEYS = [r.key for r in _theorems.THEOREMS]


def test_row_keys_are_unique():
    assert len(ROW_KEYS) == len(set(ROW_KEYS)), sorted(k for k in ROW_KEYS if ROW_KEYS.count(k) > 1)


def test_every_checked_row_has_a_marked_test():
    bare = [r.key for r in _theorems.THEOREMS if r.finding != _theorems.CITED and not BY_KEY.get(r.key)]
    assert not bare, f"rows with no @pytest.mark.thesis test: {bare}"
    cited_with_tests = [r.key for r in _theorems.THEOREMS if r.finding == _theorems.CITED and BY_KEY.get(r.key)]
    assert not cited_with_tests, f"rows marked 'cited, not checked' that have tests: {cited_with_tests}"


def test_every_marker_key_is_a_row():
    unknown = sorted({f"{k} ({t.nodeid})" for t in MARKED for k in t.keys if k not in ROW_KEYS})
    assert not unknown, f"pytest.mark.thesis keys that are not rows of the theorem map: {unknown}"


def test_marked_functions_are_collected_by_pytest():
    # pytest collects test_* functions, in Test* classes for methods (python_functions / python_classes)
    bad = [t.nodeid for t in MARKED
           if not all(p.startswith("Test") for p in t.nodeid.split("::")[1:-1])
           or not t.nodeid.split("::")[-1].startswith("test")
           or not Path(t.path.name).name.startswith("test_")]
    assert not bad, f"marked functions pytest does not collect: {bad}"


def test_marker_parser_reads_functions_methods_classes_and_pytestmark(tmp_path):
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_a.py").write_text(textwrap.dedent('''
        import pytest
        from pytest import mark

        pytestmark = [pytest.mark.thesis("M")]

        @pytest.mark.parametrize("n", [1, 2])
        @pytest.mark.thesis("A", "B")
        def test_one(n):
            pass

        def test_two():
            pass

        @mark.thesis("C")
        class TestThing:
            @pytest.mark.thesis("D")
            def test_method(self):
                pass

            def helper(self):
                pass
    '''))
    found = {t.nodeid: t.keys for t in _theorems.marked_tests(tests)}
    assert found == {
        "tests/test_a.py::test_one": ("M", "A", "B"),
        "tests/test_a.py::test_two": ("M",),
        "tests/test_a.py::TestThing::test_method": ("M", "C", "D"),
    }
    assert _theorems.node_ids_by_key(list(_theorems.marked_tests(tests)))["M"] == tuple(found)


@pytest.mark.parametrize("decorator", ["@pytest.mark.thesis()", "@pytest.mark.thesis(KEY)",
                                       "@pytest.mark.thesis(key='Thm 2.1')", "@pytest.mark.thesis('')"])
def test_marker_parser_rejects_non_literal_keys(tmp_path, decorator):
    (tmp_path / "test_b.py").write_text(f"import pytest\n\n\n{decorator}\ndef test_x():\n    pass\n")
    with pytest.raises(ValueError, match=r"test_b\.py:5: pytest\.mark\.thesis takes"):
        _theorems.marked_tests(tmp_path)


def test_marked_tests_rejects_a_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="tests_dir"):
        _theorems.marked_tests(tmp_path / "absent")


def test_marker_keys_are_what_the_source_says():
    # an independent reading of one marked test with ast, compared with the parser's answer
    path = ROOT / "tests" / "toeplitz" / "test_circulant.py"
    fn = next(n for n in ast.parse(path.read_text()).body
              if isinstance(n, ast.FunctionDef) and n.name == "test_circulant_eigenvalues_are_the_dft_of_c")
    keys = [a.value for d in fn.decorator_list
            if isinstance(d, ast.Call) and ast.unparse(d.func) == "pytest.mark.thesis" for a in d.args]
    assert keys == ["Thm 2.1"]
    assert "tests/toeplitz/test_circulant.py::test_circulant_eigenvalues_are_the_dft_of_c" in BY_KEY["Thm 2.1"]
