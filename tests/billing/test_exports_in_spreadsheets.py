"""The two CSV exports (Admin > Users, Admin > Activity) opened by a real spreadsheet:
LibreOffice headless converts them to .xlsx with the import filter the README gives,
and the cells read back are checked: names beyond ASCII as typed, a card's expiry
month and year as the numbers they are (never a date), the times as text, and a cell
that looks like a formula as text, not run.

Skipped only where `soffice` is missing (`apt-get install -y libreoffice-calc-nogui`;
.ci/run installs it).
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.urls import reverse

from accounts.models import User
from billing.models import Method, PaymentProfile, State
from billing.services import payment_profile_activate
from tests.helpers import client_for

SOFFICE = shutil.which("soffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice is not installed (apt-get install -y libreoffice-calc-nogui)",
)

# What the README tells admins to use: comma, double quote, UTF-8 (76), from line 1.
# Without it, LibreOffice headless reads the file as Windows-1252 despite its BOM.
IMPORT_FILTER = "CSV:44,34,76,1"

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def as_spreadsheet(tmp_path: Path, csv_files: dict[str, bytes]) -> dict[str, list[list[Cell]]]:
    """Each CSV converted to .xlsx by LibreOffice headless, read back as rows of cells."""
    source = tmp_path / "csv"
    source.mkdir()
    for name, content in csv_files.items():
        (source / name).write_bytes(content)
    out = tmp_path / "xlsx"
    done = subprocess.run(
        [
            SOFFICE,
            "--headless",
            f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",  # its own, not ~'s
            f"--infilter={IMPORT_FILTER}",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            *(str(source / name) for name in csv_files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return {name: read_xlsx(out / Path(name).with_suffix(".xlsx").name) for name in csv_files}


class Cell:
    """A cell as the spreadsheet stored it: `text` (a string cell) or `number`, and
    whether it holds a formula."""

    def __init__(self, *, text: str | None = None, number: str | None = None, formula=False):
        self.text, self.number, self.formula = text, number, formula

    def __repr__(self) -> str:
        return f"Cell(text={self.text!r}, number={self.number!r}, formula={self.formula})"


def read_xlsx(path: Path) -> list[list[Cell]]:
    """The first sheet's cells (an .xlsx is zipped XML: shared strings, then the
    sheet, whose cells say their type)."""
    with zipfile.ZipFile(path) as book:
        shared = [
            "".join(t.text or "" for t in item.iter(f"{_MAIN}t"))
            for item in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).iter(f"{_MAIN}si")
        ]
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iter(f"{_MAIN}row"):
        cells = []
        for cell in row.iter(f"{_MAIN}c"):
            value = cell.find(f"{_MAIN}v")
            kind = cell.get("t", "n")
            formula = cell.find(f"{_MAIN}f") is not None
            if kind == "s":
                cells.append(Cell(text=shared[int(value.text)], formula=formula))
            elif kind in ("str", "inlineStr"):
                text = "".join(t.text or "" for t in cell.iter(f"{_MAIN}t")) or (
                    value.text if value is not None else ""
                )
                cells.append(Cell(text=text, formula=formula))
            else:
                cells.append(
                    Cell(number=value.text if value is not None else None, formula=formula)
                )
        rows.append(cells)
    return rows


def by_header(rows: list[list[Cell]]) -> list[dict[str, Cell]]:
    header = [cell.text for cell in rows[0]]
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


def download(client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_both_exports_read_right_in_libreoffice(
    tmp_path, acme, alice, bob, betty, dora, make_profile
):
    # Names beyond ASCII; one that a spreadsheet would run as a formula.
    User.objects.filter(pk=bob.pk).update(name="Jürgen Straße")
    User.objects.filter(pk=betty.pk).update(name="Łucja Żółć")
    User.objects.filter(pk=dora.pk).update(name='=HYPERLINK("http://evil.example","x")')
    make_profile(bob, State.PENDING, Method.CREDIT_CARD)
    make_profile(betty, State.ACTIVE, Method.CREDIT_CARD)
    # 12/31 became 31 December in LibreOffice; 06/32 stayed text.
    PaymentProfile.objects.filter(user=bob).update(card_exp_month=12, card_exp_year=2031)
    PaymentProfile.objects.filter(user=betty).update(card_exp_month=6, card_exp_year=2032)
    payment_profile_activate(actor=alice, user=User.objects.get(pk=bob.pk))
    client = client_for(alice)

    books = as_spreadsheet(
        tmp_path,
        {
            "users.csv": download(client, reverse("billing:user_export")),
            "activity.csv": download(client, reverse("billing:activity_export")),
        },
    )

    users = {row["Email"].text: row for row in by_header(books["users.csv"])}
    jurgen, lucja = users["bob@acme.example"], users["betty@acme.example"]
    assert jurgen["Name"].text == "Jürgen Straße"
    assert lucja["Name"].text == "Łucja Żółć"
    # The expiry: two plain numbers, no date (a date is a number cell too, so
    # the value tells: 12 and 2031, not 46387, the serial of 2031-12-31).
    assert (jurgen["Card Expiry Month"].number, jurgen["Card Expiry Year"].number) == (
        "12",
        "2031",
    )
    assert (lucja["Card Expiry Month"].number, lucja["Card Expiry Year"].number) == ("6", "2032")
    # ISO 8601 with an offset stays text, as written.
    assert jurgen["Last Changed"].text.startswith("20")
    assert "T" in jurgen["Last Changed"].text
    # The formula guard: shown as text, never a formula.
    evil = users["dora@acme.example"]["Name"]
    assert not evil.formula
    assert evil.text is not None and "HYPERLINK" in evil.text

    entries = by_header(books["activity.csv"])
    activated = next(row for row in entries if row["Act"].text == "Activated")
    assert activated["Whose profile"].text == "Jürgen Straße"
    assert activated["When"].text is not None and "T" in activated["When"].text
