"""Admin > Activity in a real browser: the tenant admin filters the log by act, user
and dates, pages through it by Older/Newer, and downloads the CSV of the filter."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from django_fsm_log.models import StateLog
from playwright.sync_api import Page, expect

from accounts.timezones import tenant_zone
from billing.models import Method, PaymentProfile, State
from billing.services import (
    payment_profile_activate,
    payment_profile_deactivate,
    payment_profile_decline,
    payment_profile_submit,
)
from tests.e2e.steps import log_in
from tests.helpers import INVOICE_POST, make_user, run_bulk

DETAILS = {k: v for k, v in INVOICE_POST.items() if k != "method"}


def entries(page: Page) -> list[list[str]]:
    """The table's rows, each as its cells' text (When left out)."""
    rows = page.get_by_role("region", name="Activity").locator("tbody tr")
    return [row.locator("td").all_inner_texts()[1:] for row in rows.all()]


def test_the_admin_filters_the_log_pages_through_it_and_exports_it(
    page: Page, alice, dora, bob, acme, paid_plan, charlie, shot
) -> None:
    acme.time_zone = "Europe/Berlin"
    acme.save()
    payment_profile_submit(user=bob, method=Method.INVOICE, details=DETAILS)
    payment_profile_activate(actor=alice, user=bob)
    payment_profile_deactivate(actor=dora, user=bob, reason="Moved to the Globex team")
    erin = make_user("erin@acme.example", acme, plan=paid_plan, name="Erin Declined")
    payment_profile_submit(user=erin, method=Method.INVOICE, details=DETAILS)
    payment_profile_decline(actor=alice, user=erin, reason="The PO number is missing.")
    # 70 older saves by a scanner, a day apart, back from 2030-03-01.
    scanner = make_user("scan@acme.example", acme, plan=paid_plan, name="Scanner Bot")
    profile = PaymentProfile.objects.get(user=scanner)
    StateLog.objects.bulk_create(
        StateLog(
            content_type=ContentType.objects.get_for_model(PaymentProfile),
            object_id=profile.pk,
            timestamp=datetime(2030, 3, 1, 12, tzinfo=UTC) - timedelta(days=i),
            transition="submit",
            source_state=State.NONE,
            state=State.PENDING,
            by=scanner,
            description=f"save {i}",
        )
        for i in range(70)
    )

    log_in(page, "alice@acme.example")
    page.goto("/admin/users/")
    page.get_by_role("list", name="Admin").get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", name="Activity")).to_be_visible()
    # Newest first: bob's and erin's acts (today), then the scanner's from 2030 (the
    # test runs before 2030: these are "in the future", which is fine for the order).
    first = entries(page)
    assert len(first) == 50
    assert first[0][:2] == ["Saved for activation", "Scanner Bot"]

    page.get_by_role("link", name="Older").click()
    second = entries(page)
    assert [row[-1] for row in second[:20]] == [f"save {i}" for i in range(50, 70)]
    assert len(second) == 20 + 5  # the rest of the scanner's, and the five acts of today
    page.get_by_role("link", name="Newer").click()
    assert entries(page) == first

    # Filter: Dora's acts only (who acted), by typing her name.
    page.get_by_label("User", exact=True).fill("dora")
    page.get_by_role("button", name="Filter").click()
    assert entries(page) == [
        ["Deactivated", "Bob User", "Active", "Inactive", "Dora Admin", "Moved to the Globex team"]
    ]
    # Today's acts (a date range in the tenant's zone), for the README.
    today = timezone.localtime(timezone=tenant_zone(acme)).date().isoformat()
    page.get_by_label("User", exact=True).fill("")
    page.get_by_label("From", exact=True).fill(today)
    page.get_by_label("To", exact=True).fill(today)
    page.get_by_role("button", name="Filter").click()
    assert [row[:2] for row in entries(page)] == [
        ["Declined", "Erin Declined"],
        ["Saved for activation", "Erin Declined"],
        ["Deactivated", "Bob User"],
        ["Activated", "Bob User"],
        ["Saved for activation", "Bob User"],
    ]
    shot(page, "activity log of today", key="admin-activity-log")
    # The act and a date range.
    page.get_by_label("Act", exact=True).select_option(label="Saved for activation")
    page.get_by_label("From", exact=True).fill("2030-02-25")
    page.get_by_label("To", exact=True).fill("2030-03-01")
    page.get_by_role("button", name="Filter").click()
    assert [row[-1] for row in entries(page)] == [f"save {i}" for i in range(5)]
    shot(page, "activity log filtered")

    # The CSV of that filter.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("activity-acme-")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["When", "Act", "Whose profile"]
    assert [row[-1] for row in rows[1:]] == [f"save {i}" for i in range(5)]
    assert rows[1][0] == "2030-03-01T13:00:00+01:00"  # noon UTC, in Berlin

    # A range that ends before it starts: said at the field.
    page.get_by_label("From", exact=True).fill("2030-03-01")
    page.get_by_label("To", exact=True).fill("2030-02-01")
    page.get_by_role("button", name="Filter").click()
    expect(
        page.get_by_text("The end date (1 February 2030) is before the start date (1 March 2030)")
    ).to_be_visible()
    expect(page.get_by_label("To", exact=True)).to_have_attribute("aria-invalid", "true")

    # The owner's name links to their history.
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("User", exact=True).fill("erin")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Erin Declined").first.click()
    expect(page.get_by_role("heading", name="History of Erin Declined")).to_be_visible()
    emails = page.get_by_role("region", name="E-mails about this profile")
    expect(emails.get_by_role("row").filter(has_text="erin@acme.example")).to_have_count(1)
    expect(emails.get_by_text("Queued", exact=True)).to_have_count(3)


def _tops(page: Page) -> dict[str, float]:
    """Where the filter row's controls begin, from the top of the page."""
    form = page.get_by_role("search", name="Filter activity")
    controls = {
        "act": form.get_by_label("Act", exact=True),
        "user": form.get_by_label("User", exact=True),
        "since": form.get_by_label("From", exact=True),
        "until": form.get_by_label("To", exact=True),
        "filter": form.get_by_role("button", name="Filter"),
    }
    return {name: control.bounding_box()["y"] for name, control in controls.items()}


def in_line(tops: dict[str, float]) -> bool:
    assert len({round(y) for y in tops.values()}) == 1, tops
    return True


def test_a_date_error_keeps_the_filter_row_in_line_and_names_no_format(
    page: Page, alice, shot
) -> None:
    """The row's fields and its Filter button stay on one line when a date is wrong
    (its error below it moved the others); the error says the day in words or what
    came, never YYYY-MM-DD (the inputs show the browser's format); a value that is not
    a date is not put back into the date input."""
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, "alice@acme.example")
    page.goto("/admin/activity/")
    assert in_line(_tops(page))

    page.get_by_label("From", exact=True).fill("2030-03-01")
    page.get_by_label("To", exact=True).fill("2030-02-01")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("The end date (1 February 2030) is before")).to_be_visible()
    assert in_line(_tops(page))

    page.goto("/admin/activity/?since=2030-13-45&until=9999-12-31")
    since = page.get_by_label("From", exact=True)
    expect(since).to_have_value("")  # not a date: the message says what came
    expect(since).to_have_attribute("aria-invalid", "true")
    expect(
        page.get_by_text("The start date (2030-13-45) is not a day of the calendar")
    ).to_be_visible()
    expect(page.get_by_label("To", exact=True)).to_have_value("9999-12-31")
    expect(
        page.get_by_text("The end date (31 December 9999) is outside this log: pick a day from")
    ).to_be_visible()
    assert "YYYY" not in page.content()
    assert in_line(_tops(page))
    shot(page, "activity log, dates that are not days")


def test_an_entry_of_a_bulk_act_leads_to_its_page(page: Page, alice, bob, make_profile) -> None:
    make_profile(bob, State.PENDING)
    result = run_bulk(actor=alice, act="activate", user_ids=[bob.pk])
    assert result.changed == 1
    log_in(page, "alice@acme.example")
    page.goto("/admin/activity/")
    row = page.get_by_role("region", name="Activity").locator("tbody tr").first
    expect(row).to_contain_text("Activated")
    row.get_by_role("link", name="in bulk action").click()
    expect(page.get_by_role("heading", name="Activate payment profiles")).to_be_visible()
    expect(page.get_by_text("1 activated")).to_be_visible()
