"""What a scoring run reads, cut off at its `as_of` instant, as numpy arrays.

Purchase days are calendar dates in the shop's time zone (settings.TIME_ZONE), so recency and the CLV day
grid count calendar days: an order at 09:00 and one at 13:00 two days ago are both 2 days old.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np
from django.db import connection
from django.db.models import Count, F, Max, Min, Q, Sum, Window
from django.db.models.functions import TruncDate
from django.utils import timezone

from contacts.models import Contact, Order
from segments.models import ContactScore, ScoreChange

CHUNK = 50_000
HOLDOUT_DAYS = 182  # the model check fits as of as_of - 26 weeks and predicts the 26 weeks after


def day_number(value: dt.date) -> int:
    """Days since 1970-01-01 (numpy's datetime64[D] epoch)."""
    return (value - dt.date(1970, 1, 1)).days


def shop_day(moment: dt.datetime) -> int:
    """The calendar day (in the shop's time zone) of an instant, as a day number."""
    return day_number(timezone.localtime(moment).date())


def day_start(day: int) -> dt.datetime:
    """The instant a shop day starts."""
    date = dt.date(1970, 1, 1) + dt.timedelta(days=day)
    return timezone.make_aware(dt.datetime.combine(date, dt.time.min))


@dataclass
class Purchases:
    """Per buyer (sorted by contact id), all cut off at as_of."""

    buyer_ids: np.ndarray
    counts: np.ndarray  # orders
    days: np.ndarray  # distinct purchase days
    totals: np.ndarray
    first_day_totals: np.ndarray  # spent on the first purchase day
    first_ts: np.ndarray  # epoch seconds of the first and last order
    last_ts: np.ndarray
    first_day: np.ndarray  # shop day numbers of the first and last purchase day
    last_day: np.ndarray
    # For the model check: the same up to the calibration end, and repeat days in the holdout weeks.
    calibration_days: np.ndarray
    calibration_last_day: np.ndarray  # -1 where the buyer's first purchase is after the calibration end
    calibration_totals: np.ndarray
    holdout_days: np.ndarray

    def keep(self, mask: np.ndarray) -> Purchases:
        return Purchases(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})


def _days(values: list) -> np.ndarray:
    """date objects (or None) -> day numbers (-1 for None)."""
    array = np.array(values, dtype="datetime64[D]")
    numbers = array.astype(np.int64)
    numbers[np.isnat(array)] = -1
    return numbers


def _timestamps(values: list) -> np.ndarray:
    return np.array([v.timestamp() for v in values], dtype=float)


def purchases_read(*, as_of: dt.datetime) -> Purchases:
    """Per-buyer purchase aggregates as of `as_of`: the purchase rows by binary COPY, summed by numpy, on
    PostgreSQL; the ORM (two set-based queries) elsewhere. Both give the same numbers (the tests run on
    both)."""
    if connection.vendor == "postgresql":
        return _purchases_read_postgresql(as_of=as_of)
    return _purchases_read_orm(as_of=as_of)


def _purchases_read_postgresql(*, as_of: dt.datetime) -> Purchases:
    """The purchase rows in (contact, time) order by binary COPY, per-buyer figures by numpy
    (scoring_orders: why, and why it is exact)."""
    from segments.services.scoring_orders import purchases_arrays

    return Purchases(**purchases_arrays(as_of=as_of, calibration_end=shop_day(as_of) - HOLDOUT_DAYS))


def _purchases_read_orm(*, as_of: dt.datetime) -> Purchases:
    """ONE GROUP BY over the purchases placed at or before `as_of` (orders not cancelled/refunded), plus one
    window query for the spend on each buyer's first purchase day (the Gamma-Gamma model wants the
    average of the *repeat* purchases, as in Fader, Hardie & Lee). Rows are converted to numpy in chunks."""
    boundary = day_start(shop_day(as_of) - HOLDOUT_DAYS + 1)  # first instant of the holdout weeks
    purchases = Order.objects.exclude(status__in=Order.NOT_PURCHASES).filter(placed_at__lte=as_of)
    day = TruncDate("placed_at")
    calibration = Q(placed_at__lt=boundary)
    rows = (
        purchases.order_by("contact_id")
        .values("contact_id")
        .annotate(
            n=Count("pk"),
            days=Count(day, distinct=True),
            spent=Sum("total"),
            first=Min("placed_at"),
            last=Max("placed_at"),
            first_day=Min(day),
            last_day=Max(day),
            cal_days=Count(day, distinct=True, filter=calibration),
            cal_last=Max(day, filter=calibration),
            cal_spent=Sum("total", filter=calibration),
            hold_days=Count(day, distinct=True, filter=~calibration),
        )
        .values_list(
            "contact_id",
            "n",
            "days",
            "spent",
            "first",
            "last",
            "first_day",
            "last_day",
            "cal_days",
            "cal_last",
            "cal_spent",
            "hold_days",
        )
    )
    parts: list[list[np.ndarray]] = []
    iterator = rows.iterator(chunk_size=CHUNK)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        columns = list(zip(*chunk, strict=True))
        parts.append(
            [
                np.array(columns[0], dtype=np.int64),
                np.array(columns[1], dtype=np.int64),
                np.array(columns[2], dtype=np.int64),
                np.array(columns[3], dtype=float),
                _timestamps(columns[4]),
                _timestamps(columns[5]),
                _days(columns[6]),
                _days(columns[7]),
                np.array(columns[8], dtype=np.int64),
                _days(columns[9]),
                np.array([0.0 if v is None else v for v in columns[10]], dtype=float),
                np.array(columns[11], dtype=np.int64),
            ]
        )
    names = [
        "buyer_ids",
        "counts",
        "days",
        "totals",
        "first_ts",
        "last_ts",
        "first_day",
        "last_day",
        "calibration_days",
        "calibration_last_day",
        "calibration_totals",
        "holdout_days",
    ]
    dtypes = [np.int64, np.int64, np.int64, float, float, float, np.int64, np.int64] + [np.int64] * 2
    dtypes += [float, np.int64]
    arrays = {
        name: (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, dtype=dtypes[i]))
        for i, name in enumerate(names)
    }
    order = np.argsort(arrays["buyer_ids"], kind="stable")
    arrays = {name: values[order] for name, values in arrays.items()}
    arrays["first_day_totals"] = _first_day_totals(purchases, arrays["buyer_ids"])
    return Purchases(**arrays)


def _first_day_totals(purchases, buyer_ids: np.ndarray) -> np.ndarray:
    first_day_orders = (
        purchases.annotate(first_day=Window(Min(TruncDate("placed_at")), partition_by=[F("contact_id")]))
        .filter(placed_at__date=F("first_day"))
        .order_by()
        .values_list("contact_id", "total")
    )
    totals = np.zeros(len(buyer_ids))
    iterator = first_day_orders.iterator(chunk_size=CHUNK)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        owners, amounts = zip(*chunk, strict=True)
        position = np.searchsorted(buyer_ids, np.array(owners, dtype=np.int64))
        np.add.at(totals, position, np.array(amounts, dtype=float))
    return np.round(totals, 2)  # float sums of cents, back to the exact cents (as the PostgreSQL read)


def contact_ids_read() -> np.ndarray:
    return np.fromiter(
        Contact.objects.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=CHUNK), dtype=np.int64
    )


def _align(contact_ids: np.ndarray, ids: np.ndarray, values: np.ndarray, target: np.ndarray) -> None:
    if not len(ids) or not len(contact_ids):
        return
    position = np.minimum(np.searchsorted(contact_ids, ids), len(contact_ids) - 1)
    found = contact_ids[position] == ids
    target[position[found]] = values[found]


def previous_values_read(contact_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Segment, stage and cluster currently stored, aligned to `contact_ids` ("" where no row)."""
    previous = {name: np.full(len(contact_ids), "", dtype=object) for name in ("segment", "stage", "cluster")}
    rows = ContactScore.objects.values_list("contact_id", "rfm_segment", "lifecycle_stage", "clv_cluster")
    iterator = rows.iterator(chunk_size=CHUNK)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        ids, segments, stages, clusters = zip(*chunk, strict=True)
        ids_array = np.array(ids, dtype=np.int64)
        for name, values in (("segment", segments), ("stage", stages), ("cluster", clusters)):
            _align(contact_ids, ids_array, np.array(values, dtype=object), previous[name])
    return previous


def history_values_read(contact_ids: np.ndarray, *, as_of: dt.datetime) -> dict[str, np.ndarray]:
    """Segment, stage and cluster as the score history stood at `as_of` (the latest change at or before it),
    for look-back runs: changes recorded after `as_of` are not seen."""
    previous = {name: np.full(len(contact_ids), "", dtype=object) for name in ("segment", "stage", "cluster")}
    for field_name in previous:
        rows = (
            ScoreChange.objects.filter(field=field_name, changed_at__lte=as_of)
            .order_by("contact_id", "changed_at", "pk")
            .values_list("contact_id", "new")
        )
        iterator = rows.iterator(chunk_size=CHUNK)
        while chunk := list(itertools.islice(iterator, CHUNK)):
            ids, values = zip(*chunk, strict=True)
            ids_array = np.array(ids, dtype=np.int64)
            last = np.append(ids_array[1:] != ids_array[:-1], True)  # rows are in time order per contact
            _align(contact_ids, ids_array[last], np.array(values, dtype=object)[last], previous[field_name])
    return previous
