"""Admin > Users for people who live in it: a filter applies when it is changed (with
JavaScript; with the Apply button without), the counts, the page numbers and the page
size, and the CSV of what the filter shows."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Plan, Tenant, User
from tests.e2e.steps import log_in
from tests.e2e.test_profile_admin import open_users, users_row
from tests.helpers import bulk_users


@pytest.fixture
def crowd(alice: User, bob: User, betty: User, acme: Tenant, paid_plan: Plan) -> Plan:
    """60 more users on the paid plan: 61 on it (bob too), 63 in Acme."""
    bulk_users(acme, 60, plan=paid_plan, prefix="paid")
    return paid_plan


def count_line(page: Page):
    return page.locator("#user-count")


def test_the_filters_apply_when_changed_and_the_pages_follow(
    new_context, crowd: Plan, shot
) -> None:
    page: Page = new_context().new_page()
    log_in(page, "alice@acme.example")
    open_users(page)
    expect(count_line(page)).to_have_text("63 users")

    # Choosing a plan applies it: no button pressed.
    page.get_by_label("Plan", exact=True).select_option(label="Cloud Pro")
    expect(page).to_have_url(re.compile(rf"[?&]plan={crowd.pk}\b"))
    expect(count_line(page)).to_have_text("61 of 63 users")
    expect(users_row(page, "betty@acme.example")).to_have_count(0)
    expect(page.get_by_label("Plan", exact=True)).to_have_value(str(crowd.pk))

    # So does the page size; the plan stays.
    page.get_by_label("Per page").select_option("25")
    expect(page).to_have_url(re.compile(r"[?&]size=25\b"))
    expect(page.get_by_role("row")).to_have_count(26)  # the header and 25 users
    pages = page.get_by_role("navigation", name="Pages")
    expect(pages).to_contain_text("Page 1 of 3")
    pages.get_by_role("link", name="Page 2").click()
    expect(pages.locator("[aria-current=page]")).to_have_text("Page 2")
    expect(count_line(page)).to_have_text("61 of 63 users")
    expect(page).to_have_url(re.compile(rf"plan={crowd.pk}&size=25&page=2$"))
    shot(page, "users-filtered-page-2", key="admin-users-filtered")
    pages.get_by_role("link", name="Last").click()
    expect(pages.locator("[aria-current=page]")).to_have_text("Page 3")
    expect(page.get_by_role("row")).to_have_count(12)  # 61 = 25 + 25 + 11
    pages.get_by_role("link", name="First").click()
    expect(pages.locator("[aria-current=page]")).to_have_text("Page 1")

    # The search still applies on Enter, with the rest of the filter.
    page.get_by_role("searchbox", name="Search").fill("paid000")
    page.get_by_role("searchbox", name="Search").press("Enter")
    expect(count_line(page)).to_have_text("10 of 63 users")


def test_with_the_keyboard_a_list_applies_on_enter_not_on_every_arrow(
    new_context, crowd: Plan
) -> None:
    page: Page = new_context().new_page()
    log_in(page, "alice@acme.example")
    page.goto("/admin/users/")
    status = page.get_by_label("Profile status")
    status.focus()
    page.keyboard.press("ArrowDown")  # a closed list moves one step: "Awaiting an admin"
    expect(status).to_have_value("awaiting")
    expect(page).to_have_url(re.compile(r"/admin/users/$"))  # not applied yet
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]status=awaiting\b"))
    expect(count_line(page)).to_have_text("0 of 63 users")


def test_without_javascript_the_apply_button_filters(no_js_context, crowd: Plan) -> None:
    page: Page = no_js_context.new_page()
    log_in(page, "alice@acme.example")
    page.goto("/admin/users/")
    page.get_by_label("Plan", exact=True).select_option(label="Bundles only (no plan)")
    expect(page).to_have_url(re.compile(r"/admin/users/$"))  # nothing happens by itself
    page.get_by_label("Profile status").select_option(label="Not required")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"status=not_required&plan=none"))
    expect(count_line(page)).to_have_text("0 of 63 users")
    page.get_by_label("Plan", exact=True).select_option(label="Starter Bundle")
    page.get_by_role("button", name="Apply").click()
    expect(count_line(page)).to_have_text("2 of 63 users")  # alice and betty
    expect(users_row(page, "betty@acme.example")).to_have_count(1)
    pages = page.get_by_role("navigation", name="Pages")
    expect(pages).to_have_count(0)


def test_the_csv_downloads_with_the_rows_of_the_filter(new_context, crowd: Plan) -> None:
    page: Page = new_context(accept_downloads=True).new_page()
    log_in(page, "alice@acme.example")
    page.goto("/admin/users/?q=paid000&sort=-name&size=25")
    expect(count_line(page)).to_have_text("10 of 63 users")
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert re.fullmatch(r"users-acme-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    text = open(download.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["Email"] for row in rows] == [f"paid{i:04d}@acme.example" for i in range(9, -1, -1)]
    assert {row["Plan"] for row in rows} == {"Cloud Pro"}
    assert {row["Profile Status"] for row in rows} == {"Not set up"}
