"""The README is a page a newcomer reads in minutes: its two commands and the way to change
a parameter come first, and every document it points to exists."""

from __future__ import annotations

import re

from newsstudy import paths

README = paths.PROJECT_ROOT / "README.md"


def test_readme_is_at_most_15_kb():
    assert README.stat().st_size <= 15_000, f"README.md is {README.stat().st_size} bytes"


def test_readme_first_screen_has_the_two_commands_and_a_changed_parameter():
    first_screen = "\n".join(README.read_text(encoding="utf-8").splitlines()[:40])
    assert "make reproduce" in first_screen and "make test" in first_screen
    assert "newsstudy run 03_grpo --profile default -p grpo_learning_rate=" in first_screen
    assert "newsstudy list 03_grpo" in first_screen


def test_every_local_link_of_the_readme_exists():
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text)
    assert links
    for link in links:
        assert (paths.PROJECT_ROOT / link).exists(), link


def test_the_readme_names_every_notebook():
    text = README.read_text(encoding="utf-8")
    for notebook in sorted(paths.NOTEBOOKS_DIR.glob("*.ipynb")):
        assert f"`{notebook.stem}`" in text, notebook.stem
