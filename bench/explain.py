"""Plans of the queries a page runs, as captured from the request: EXPLAIN ANALYZE on
PostgreSQL, EXPLAIN QUERY PLAN on SQLite.

The session and user lookups go by primary key; what matters is how the Users
page's own count and page queries read ``accounts_user`` and
``billing_paymentprofile``: a full scan of either is flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import connection

WATCHED = ("accounts_user", "billing_paymentprofile")


@dataclass
class Plan:
    sql: str
    plan: str
    seq_scans: list[str] = field(default_factory=list)


def explain(sqls: list[str]) -> list[Plan]:
    plans = []
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        for sql in sqls:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            if pg:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
                text = "\n".join(row[0] for row in cursor.fetchall())
                found = re.findall(r"Seq Scan on (\w+)", text)
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                text = "\n".join(str(row[-1]) for row in cursor.fetchall())
                found = re.findall(r"\bSCAN (\w+)(?! USING (?:COVERING )?INDEX)", text)
            seq = sorted({t for t in found if t in WATCHED})
            plans.append(Plan(sql=sql, plan=text, seq_scans=seq))
    return plans
