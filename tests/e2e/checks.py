"""Checks any browser test can run on the page state it has reached.

``check_page(page, "state")`` runs axe-core (shipped by axe-playwright-python) on the
page as it is now, menus and popups included, and fails on any critical or serious
violation; it also fails when anything makes the page wider than the screen (on a
390-px phone the Users page was once 714 px wide). ``inside_viewport`` is for an open
menu or popup. Run ``check_page`` once per page state, not after every step: axe
takes a fraction of a second each time.

axe is injected into the page as a script, which the app's Content-Security-Policy
refuses: open the page in a context made by the ``checked_context`` fixture
(``bypass_csp=True``). The other browser tests keep the policy on and watch it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
BLOCKING = ("critical", "serious")

_axe = Axe()

# Not ours to check: localstripe's stand-in for Stripe's Card Element puts five plain
# <input>s without labels (placeholders only) into Payment Information's card box.
# Real Stripe.js puts its own, labelled fields in an iframe of Stripe's. The box
# itself (a labelled group) and everything around it are checked.
NOT_OURS = {"exclude": [["#card-element > input"], ["#card-element > span"]]}


def axe_violations(page: Page) -> list[dict]:
    """axe-core's violations on the page as it is now (every impact)."""
    return _axe.run(page, context=NOT_OURS).response["violations"]


def describe(violations: list[dict]) -> list[str]:
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(
                f"{violation['impact']} {violation['id']} ({violation['help']}) at "
                f"{' '.join(map(str, node['target']))}: {summary}"
            )
    return lines


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


@dataclass
class Findings:
    """What ``check_page`` found on each state, for a test that walks many states and
    reports them all at the end instead of stopping at the first."""

    problems: dict[str, list[str]] = field(default_factory=dict)
    widths: dict[str, int] = field(default_factory=dict)


def check_page(page: Page, state: str, *, findings: Findings | None = None) -> None:
    """No critical or serious axe violation, and nothing wider than the viewport.
    Fails at once, or records into ``findings`` when one is given."""
    expect(page.locator("body")).to_be_visible()
    violations = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
    problems = describe(violations)
    width, viewport = page_width(page), page.viewport_size["width"]
    if width > viewport:
        problems.append(f"the page is {width} px wide on a {viewport}-px screen")
    if findings is not None:
        findings.problems[state] = problems
        findings.widths[state] = width
    elif problems:
        pytest.fail(f"{state} ({page.url}):\n" + "\n".join(problems), pytrace=False)


def inside_viewport(page: Page, locator: Locator) -> bool:
    """Whether the whole of an element (an open menu, a popup) is on the screen."""
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None, "not rendered"
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )
