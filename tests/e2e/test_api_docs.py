"""The API's docs page (Swagger UI from our own static files) works in a real
browser under the app's Content-Security-Policy, with nothing from the internet."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def test_the_api_docs_render_every_endpoint_under_the_csp(page: Page, console_guard, db) -> None:
    page.goto("/api/v1/docs/")
    expect(page.locator(".opblock").first).to_be_visible(timeout=15000)
    assert page.locator(".opblock").count() == 8
    console_guard.check("API docs")
