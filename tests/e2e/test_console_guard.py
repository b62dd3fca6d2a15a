"""The browser tests fail on what a page complains about. Proven here by serving the
login page, with the app's real Content-Security-Policy header, plus the inline script
and style a careless template might add."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route, expect


def test_it_reports_csp_violations_and_script_errors(page: Page, console_guard) -> None:
    def tamper(route: Route) -> None:
        response = route.fetch()
        assert "script-src 'self'" in response.headers["content-security-policy"]
        body = response.text().replace(
            "</body>",
            '<p style="color: red">styled</p><script>document.title = "inline";</script></body>',
        )
        route.fulfill(response=response, body=body)

    page.route("**/login/", tamper)
    page.goto("/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.evaluate("setTimeout(() => { throw new Error('broken script') }, 0)")
    expect(page).not_to_have_title("inline")
    page.wait_for_timeout(100)

    reported = "\n".join(console_guard.problems)
    assert "Content Security Policy directive 'script-src 'self''" in reported
    assert "Content Security Policy directive 'style-src 'self''" in reported
    assert "broken script" in reported
    with pytest.raises(pytest.fail.Exception, match="The browser reported problems"):
        console_guard.check("tampered login page")
    assert console_guard.problems == []
