"""Chart specifications for the widgets in reports/static/reports/ (passed with json_script)."""

from __future__ import annotations

from django.conf import settings


def chart(
    *,
    title: str,
    labels: list,
    datasets: list[tuple[str, list]],
    unit: str = "count",
    value_label: str,
    category_label: str = "",
    horizontal: bool = False,
) -> dict:
    return {
        "title": title,
        "labels": [str(label) for label in labels],
        "datasets": [
            {"label": label, "data": [None if v is None else float(v) for v in data]}
            for label, data in datasets
        ],
        "unit": unit,
        "currency": settings.REPORTS_CURRENCY,
        "value_label": value_label,
        "category_label": category_label,
        "horizontal": horizontal,
    }
