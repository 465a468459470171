"""The documentation's examples run, and the generated pages are current."""

import importlib.util
import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in [*DOCS.rglob("*.md"), ROOT / "README.md"]
               if _BLOCK.search(p.read_text()))


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run(page):
    code = "\n".join(_BLOCK.findall((ROOT / page).read_text()))
    for mod in re.findall(r"^# requires: (\w+)", code, re.MULTILINE):
        if importlib.util.find_spec(mod) is None:
            pytest.fail(f"{page} needs {mod}, which is not importable (the test extra installs it)")
    namespace = {"__name__": "__docs__"}
    exec(compile(code, str(ROOT / page), "exec"), namespace)


def test_api_pages_are_current():
    gen = runpy.run_path(str(DOCS / "gen_api.py"))
    assert gen["main"](check=True) == 0, "run `python docs/gen_api.py`"


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")]
    assert pages and all(p in nav for p in pages), [p for p in pages if p not in nav]


def _without_times(text):
    """Lines of a `toeplitzkit bound` table with the timing column and the total time removed."""
    out = []
    for line in text.splitlines():
        if line.startswith("total time") or not line.strip():
            continue
        cells = line.split()
        if len(cells) > 4 and re.fullmatch(r"[-\d.]+", cells[-1]):  # a table row: drop its time cell
            line = line.rstrip()[: -len(cells[-1])].rstrip()
        out.append(line.rstrip())
    return out


def test_readme_first_screen_and_bound_output(capsys):
    from toeplitzkit.cli import main

    readme = (ROOT / "README.md").read_text()
    lines = readme.splitlines()
    head = "\n".join(lines[:15])
    assert "make demo" in head and "make test" in head
    assert "docs/index.md" in readme
    # The built-in network's table in the README is what `toeplitzkit bound` prints now.
    assert main(["bound"]) == 0
    printed = _without_times(capsys.readouterr().out)
    shown = _without_times(readme)
    assert "$ toeplitzkit bound" in readme and len(printed) == 8
    missing = [line for line in printed if line not in shown]
    assert not missing, missing
