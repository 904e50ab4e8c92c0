# ruff: noqa: E501  (HTML, CSS and playbook copy read better unwrapped)
"""The building blocks of the playbook definitions (steps, edges, emails, pools, settings, the file)."""

from __future__ import annotations

from pathlib import Path

from messaging.email_layout import email_html, email_text

HERE = Path(__file__).resolve().parent
X, SIDE_X, ROW = 300, 640, 130


def step(key: str, kind: str, name: str, config: dict, column: int, row: int) -> dict:
    return {
        "key": key,
        "kind": kind,
        "name": name,
        "x": X if column == 0 else SIDE_X,
        "y": 40 + row * ROW,
        "config": config,
    }


def edges(*triples: tuple[str, str, str]) -> list[dict]:
    return [{"from": a, "branch": b, "to": c} for a, b, c in triples]


def email(
    name: str, subject: str, body: str, *, preheader: str = "", coupon=False, products=False, button=None
) -> dict:
    html = email_html(
        body=body,
        preheader=preheader,
        coupon=coupon,
        products=products,
        button=button or ("Visit the shop", "{{ site_url }}"),
    )
    return {
        "name": name,
        "channel": "email",
        "subject": subject,
        "html_body": html,
        "from_email": "",
        "text_body": email_text(
            body=body, coupon=coupon, products=products, button=button or ("Visit the shop", "{{ site_url }}")
        ),
    }


def pool(name: str, kind: str, value: str | None, text: str, days: int = 30) -> dict:
    return {
        "name": name,
        "offer_kind": kind,
        "offer_value": value,
        "offer_currency": "EUR",
        "offer_text": text,
        "valid_days": days,
        "low_stock_threshold": 50,
    }


def settings(**values) -> dict:
    base = {
        "reentry": "never",
        "reentry_days": None,
        "holdout_percent": 0,
        "conversion_window_days": 14,
        "quiet_hours_start": "21:00",
        "quiet_hours_end": "08:00",
        "frequency_cap_messages": None,
        "frequency_cap_days": None,
        "frequency_cap_action": "postpone",
    }
    return {**base, **values}


def document(
    playbook: dict, journey: dict, segments=(), pools=(), templates=(), surveys=(), audiences=()
) -> dict:
    return {
        "format": "winback.journey",
        "version": 1,
        "playbook": playbook,
        "journey": journey,
        "segments": list(segments),
        "pools": list(pools),
        "templates": list(templates),
        "surveys": list(surveys),
        "audiences": list(audiences),
    }


HI = '<h1>{{ contact.first_name|default:"Hello" }}, '
