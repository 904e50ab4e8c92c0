"""'N+ purchases' / 'spent more than X' in the last 30, 90 or 365 days from the maintained per-contact
windows (segments.ContactPurchaseStats, PostgreSQL), exact at any moment.

The stored `n90` counts the purchases placed since M = midnight UTC of (anchor day - 90 days); the rule asks
for those placed since T = now - 90 days. While the anchor day's midnight is not after now, M <= T and the
exact count is `n90` minus the purchases placed in [M, T) (the orders of the day or two since the anchor).
Order totals are never negative (a check constraint), so stored >= exact and `stored op value` is a valid
index prefilter for gt, gte and eq. One statement:

    contacts whose stored value passes the prefilter, LEFT JOIN the slice [M, T) grouped per contact,
    keeping those whose stored value minus the slice passes the rule.

The anchor is read in the same snapshot as the columns. If it moved past `now` between compiling and
running (a `now` more than a day old during a refresh; the refresh anchors on yesterday), the statement
fails with "division by zero" rather than return a wrong set. A `now` before the anchor day, another
window or another period reads the orders (segments.rules.activity_fields._buyers_having).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Q
from django.db.models.expressions import RawSQL

if TYPE_CHECKING:
    from segments.rules.compiler import _Context

MAINTAINED_DAYS = (30, 90, 365)
_OPERATORS = {"gt": ">", "gte": ">=", "eq": "="}


def maintained_window(cond: dict, ctx: _Context) -> tuple[int, dt.date] | None:
    """(days, anchor day) when `cond`'s period is a maintained window ({"last_days": 30|90|365}) and the
    stored columns can answer at ctx.now (PostgreSQL, anchor day not after now's UTC date), else None."""
    from django.db import connection

    from segments.models import PurchaseStatsDay

    period = cond.get("period")
    if connection.vendor != "postgresql" or not isinstance(period, dict) or set(period) != {"last_days"}:
        return None
    days = period["last_days"]
    if type(days) is not int or days not in MAINTAINED_DAYS:
        return None
    anchor = PurchaseStatsDay.objects.order_by("id").values_list("refreshed_on", flat=True).first()
    if anchor is None or anchor > ctx.now.astimezone(dt.UTC).date():
        return None
    return days, anchor


def window_buyers(
    ctx: _Context, days: int, anchor: dt.date, measure: str, op: str, value: int | Decimal
) -> Q:
    """Contacts whose purchases in the last `days` days have count (`measure` "n") or sum ("s") `op` value;
    only for op gt/gte/eq with a value only buyers can reach (as _buyers_having)."""
    column = f"s.{measure}{days}"
    aggregate = "count(*)" if measure == "n" else "sum(o.total)"
    since = ctx.now - dt.timedelta(days=days)  # T
    # M as read when compiling: redundant with the anchor read in the statement (equal, or earlier if a
    # refresh ran in between), but a literal lets the planner see how thin the slice is.
    hint = dt.datetime.combine(anchor - dt.timedelta(days=days), dt.time.min, tzinfo=dt.UTC)
    today = ctx.now.astimezone(dt.UTC).date()
    only_s = only_o = ""
    narrow: list = []
    if ctx.contact_ids is not None:
        only_s, only_o = " AND s.contact_id = ANY(%s)", " AND o.contact_id = ANY(%s)"
        narrow = [list(ctx.contact_ids)]
    # M, or a division by zero when the anchor day is after now's date (see the module docstring).
    start = (
        "(SELECT (d.refreshed_on - %s)::timestamp AT TIME ZONE 'UTC' FROM segments_purchasestatsday d "
        "WHERE 1 / (d.refreshed_on <= %s)::int = 1 ORDER BY d.id LIMIT 1)"
    )
    gone = (
        f"SELECT o.contact_id, {aggregate} AS gone FROM contacts_order o "
        f"WHERE o.status NOT IN ('cancelled', 'refunded') AND o.placed_at >= {start} AND o.placed_at >= %s"
        f" AND o.placed_at < %s{only_o} GROUP BY o.contact_id"
    )
    gone_params = [days, today, hint, since, *narrow]
    # The same check once per statement (a one-time filter), also when no stored row passes the prefilter.
    # No anchor row at all (deleted between compiling and running) divides by zero too, never "nobody".
    guard = "(SELECT 1 / coalesce(min((d.refreshed_on <= %s)::int), 0) FROM segments_purchasestatsday d) = 1"
    if op == "eq":  # stored >= exact: the prefilter is "stored >= value", the slice decides
        sql = (
            f"SELECT s.contact_id FROM segments_contactpurchasestats s LEFT JOIN ({gone}) g"
            f" ON g.contact_id = s.contact_id WHERE {guard} AND {column} >= %s"
            f" AND {column} - coalesce(g.gone, 0) = %s{only_s}"
        )
        params = [*gone_params, today, value, value, *narrow]
    else:  # those passing on the stored value, but the few whose slice pulls them below it (an anti join)
        sql = (
            "SELECT s.contact_id FROM segments_contactpurchasestats s"
            f" WHERE {guard} AND {column} {_OPERATORS[op]} %s{only_s}"
            f" AND NOT EXISTS (SELECT 1 FROM ({gone}) g WHERE g.contact_id = s.contact_id"
            f" AND NOT ({column} - g.gone {_OPERATORS[op]} %s))"
        )
        params = [today, value, *narrow, *gone_params, value]
    # Only constants are formatted into the SQL (column and operators from fixed tables); values are params.
    return Q(pk__in=RawSQL(sql, params))  # noqa: S611
