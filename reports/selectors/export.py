"""The journey report as plain data: the JSON of `manage.py journey_report` and the CSV tables."""

from __future__ import annotations

from collections.abc import Iterator


def journey_report_json(report: dict) -> dict:
    """Exactly the keys the command line promises (rates as fractions; ci bounds the absolute lift)."""
    holdout = report["holdout"]
    lift = report["lift"]
    return {
        "entered": report["entered"],
        "converted": report["converted"],
        "revenue": report["revenue"],
        "holdout": {
            "entered": holdout["entered"],
            "converted": holdout["converted"],
            "revenue": holdout["revenue"],
        },
        "lift": {key: lift[key] for key in ("absolute", "relative", "ci_low", "ci_high")},
        "variants": [dict(v) for v in report["variants"]],
        "steps": [
            {
                "key": s["key"],
                "name": s["name"],
                "kind": s["kind"],
                "reached": s["reached"],
                "in_flight": s["in_flight"],
                "messages": [dict(m) for m in s["messages"]],
            }
            for s in report["steps"]
        ],
    }


def journey_report_tables(report: dict) -> dict[str, list[list]]:
    """Each table of the report page as rows (header first), for CSV downloads."""
    treated, holdout, lift = report["treated"], report["holdout"], report["lift"]
    summary = [
        ["group", "entered", "converted", "conversion_rate", "revenue", "revenue_per_contact"],
        *(
            [name, g["entered"], g["converted"], g["conversion_rate"], g["revenue"], g["revenue_per_contact"]]
            for name, g in (("treated", treated), ("holdout", holdout))
        ),
    ]
    lift_rows = [
        ["measure", "estimate", "ci_low", "ci_high"],
        ["conversion_rate_difference", lift["absolute"], lift["ci_low"], lift["ci_high"]],
        ["relative_lift", lift["relative"], "", ""],
        [
            "revenue_per_contact_difference",
            lift["revenue_per_contact"],
            lift["revenue_ci_low"],
            lift["revenue_ci_high"],
        ],
        ["incremental_conversions", lift["incremental_conversions"], "", ""],
        ["incremental_revenue", lift["incremental_revenue"], "", ""],
        ["p_value", lift["p_value"], "", ""],
    ]
    variant_keys = [
        "variant", "entered", "converted", "conversion_rate", "ci_low", "ci_high", "revenue",
        "revenue_per_contact", "test", "p_value", "probability_best",
    ]  # fmt: skip
    variants = [variant_keys, *([v[k] for k in variant_keys] for v in report["variants"])]
    steps = [["key", "name", "kind", "reached", "reached_rate", "in_flight"]]
    steps += [
        [s["key"], s["name"], s["kind"], s["reached"], s["reached_rate"], s["in_flight"]]
        for s in report["steps"]
    ]
    message_keys = [
        "channel", "sent", "delivered", "opened", "clicked", "unsubscribed", "bounced", "delivery_rate",
        "open_rate", "click_rate", "unsubscribe_rate", "bounce_rate",
    ]  # fmt: skip
    messages = [["step", *message_keys]]
    for s in report["steps"]:
        messages += [[s["name"] or s["key"], *(m[k] for k in message_keys)] for m in s["messages"]]
    exited = [
        ["state", "reason", "contacts"],
        *([e["state"], e["reason"], e["contacts"]] for e in report["exited"]),
    ]
    return {
        "summary": summary,
        "lift": lift_rows,
        "variants": variants,
        "steps": steps,
        "messages": messages,
        "exited": exited,
    }


def rows_as_csv_lines(rows: list[list]) -> Iterator[list]:
    from contacts.services.export import cell_safe

    for row in rows:
        yield [cell_safe(value) for value in row]
