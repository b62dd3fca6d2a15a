"""The committed key screens, the tests that take them and the README agree: no
screenshot left behind by a renamed step, none missing, none the README doesn't show."""

from __future__ import annotations

import re

from tests.e2e.conftest import DOCS_SCREENSHOTS, E2E_DIR, ROOT


def test_it_keeps_docs_screenshots_the_readme_and_the_tests_in_step() -> None:
    keys = {
        key
        for path in E2E_DIR.glob("test_*.py")
        for key in re.findall(r'\bkey="([\w-]+)"', path.read_text())
    }
    committed = {path.stem for path in DOCS_SCREENSHOTS.glob("*.png")}
    readme = (ROOT / "README.md").read_text()
    shown = set(re.findall(r"\]\(docs/screenshots/([\w-]+)\.png\)", readme))

    assert keys, "no key screens found in the browser tests"
    assert committed == keys, "run UPDATE_SCREENSHOTS=1 make test and commit docs/screenshots/"
    assert shown == keys, "the README's Screenshots section should show every key screen"
