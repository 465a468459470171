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
            pytest.skip(f"{page} needs {mod}")
    namespace = {"__name__": "__docs__"}
    exec(compile(code, str(ROOT / page), "exec"), namespace)


def test_api_pages_are_current():
    gen = runpy.run_path(str(DOCS / "gen_api.py"))
    assert gen["main"](check=True) == 0, "run `python docs/gen_api.py`"


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")]
    assert pages and all(p in nav for p in pages), [p for p in pages if p not in nav]


def test_readme_first_screen_and_bound_output():
    lines = (ROOT / "README.md").read_text().splitlines()
    head = "\n".join(lines[:15])
    assert "make demo" in head and "make test" in head
    text = "\n".join(lines)
    # the table shown is the one `toeplitzkit bound` prints on the built-in network
    for word in ("$ toeplitzkit bound", "conv1", "conv2", "fc", "network Lipschitz bound (product"):
        assert word in text
    assert "docs/index.md" in text
