# ruff: noqa: E501  (HTML, CSS and playbook copy read better unwrapped)
"""Writes the playbook files (journeys/playbooks/*.json) from the definitions below.

The JSON files are what Winback reads (adding a playbook is adding a file, in the journey file format
of journeys/services/transfer.py plus a "playbook" block for the gallery). This module is only the
convenient way to author the five shipped ones with the shared email layout; run it after changing
them or the layout:  python -m journeys.playbooks.build   (with DJANGO_SETTINGS_MODULE set).
"""

from __future__ import annotations

import json
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


def defecting_advocates() -> dict:
    voucher = (
        HI + "a thank-you from us</h1>"
        "<p>You have not shopped with us for a while, and we would love to see you again. "
        "Here is {offer} for your next order, picked just for you.</p>"
    )
    return document(
        {
            "slug": "defecting-advocates",
            "title": "Defecting advocates",
            "summary": "Buyers drifting away (last purchase 90 to 365 days ago) are split by their referral "
            "activity: active referrers are reminded of the referral programme with their own count and "
            "link; dormant ones get one of two incentives (A/B test), each a personal code with products "
            "picked for them. The report shows which incentive wins.",
            "channels": ["Email"],
            "prepare": [
                "Contact attributes referral_activity (Active/Dormant), referral_successful_count and "
                "referral_share_link from your referral tool (the CSV import's attr.* columns).",
                "Codes for both pools: “Advocates 10%” and “Advocates €10” (generate or import).",
            ],
            "options": [],
        },
        {
            "name": "Defecting advocates",
            "description": "Daily: defecting buyers with email consent, split by referral activity; active "
            "referrers get a referral reminder, dormant ones an A/B test of two incentives.",
            "settings": settings(conversion_window_days=14, reentry="after_days", reentry_days=180),
            "steps": [
                step(
                    "entry",
                    "entry",
                    "Defecting buyers",
                    {
                        "segment": "Defecting buyers (email)",
                        "every": 1,
                        "period": "days",
                        "mode": "new",
                        "consent": "email",
                    },
                    0,
                    0,
                ),
                step(
                    "split",
                    "attribute_split",
                    "Referral activity",
                    {"field": "attributes.referral_activity", "values": ["Active", "Dormant"]},
                    0,
                    1,
                ),
                step(
                    "referral",
                    "send_email",
                    "Referral reminder",
                    {"template": "Advocates: your referral link"},
                    1,
                    2,
                ),
                step("other", "end", "No referral data", {}, 1, 1),
                step(
                    "ab",
                    "ab_split",
                    "Which incentive?",
                    {"variants": [{"label": "10% off", "percent": 50}, {"label": "€10 off", "percent": 50}]},
                    0,
                    2,
                ),
                step("coupon_pct", "assign_coupon", "10% code", {"pool": "Advocates 10%"}, 0, 3),
                step("mail_pct", "send_email", "Voucher 10%", {"template": "Advocates: 10% voucher"}, 0, 4),
                step("coupon_eur", "assign_coupon", "€10 code", {"pool": "Advocates €10"}, 1, 3),
                step("mail_eur", "send_email", "Voucher €10", {"template": "Advocates: €10 voucher"}, 1, 4),
                step("no_codes", "end", "No codes left", {}, 1, 5),
                step("done", "end", "Done", {}, 0, 5),
            ],
            "edges": edges(
                ("entry", "next", "split"),
                ("split", "Active", "referral"),
                ("split", "Dormant", "ab"),
                ("split", "default", "other"),
                ("referral", "next", "done"),
                ("ab", "10% off", "coupon_pct"),
                ("ab", "€10 off", "coupon_eur"),
                ("coupon_pct", "next", "mail_pct"),
                ("coupon_pct", "exhausted", "no_codes"),
                ("coupon_eur", "next", "mail_eur"),
                ("coupon_eur", "exhausted", "no_codes"),
                ("mail_pct", "next", "done"),
                ("mail_eur", "next", "done"),
            ),
        },
        segments=[
            {
                "name": "Defecting buyers (email)",
                "description": "Last purchase more than 90 and at most 365 days ago, with email consent.",
                "rules": {
                    "op": "and",
                    "rules": [
                        {"field": "last_purchase", "operator": "more_than_days_ago", "value": 90},
                        {"field": "last_purchase", "operator": "within_last_days", "value": 365},
                        {"field": "email_consent", "operator": "is", "value": True},
                    ],
                },
            }
        ],
        pools=[
            pool("Advocates 10%", "percent", "10", "10% off your next order"),
            pool("Advocates €10", "amount", "10", "€10 off your next order"),
        ],
        templates=[
            email(
                "Advocates: your referral link",
                "{{ contact.first_name|default:'Hello' }}, your friends are still welcome",
                HI + "thank you for spreading the word</h1>"
                "{% with n=contact.attributes.referral_successful_count %}"
                "{% if n %}<p>{{ n }} friend{{ n|pluralize }} already joined through you. That means a lot to us.</p>{% endif %}"
                "{% endwith %}"
                "<p>Your personal link still works: every friend who orders through it saves on their first "
                "order, and so do you.</p>",
                preheader="Your referral link still works",
                button=("Share your link", "{{ contact.attributes.referral_share_link|default:site_url }}"),
            ),
            email(
                "Advocates: 10% voucher",
                "{{ contact.first_name|default:'Hello' }}, 10% off your next order",
                voucher.replace("{offer}", "<strong>10% off</strong>"),
                preheader="A personal code for 10% off",
                coupon=True,
                products=True,
                button=("Use my code", "{{ site_url }}"),
            ),
            email(
                "Advocates: €10 voucher",
                "{{ contact.first_name|default:'Hello' }}, €10 off your next order",
                voucher.replace("{offer}", "<strong>{{ shop.currency_symbol }}10 off</strong>"),
                preheader="A personal code for 10 off",
                coupon=True,
                products=True,
                button=("Use my code", "{{ site_url }}"),
            ),
        ],
    )


def low_clv_coupon() -> dict:
    return document(
        {
            "slug": "low-clv-coupon",
            "title": "Low-CLV coupon",
            "summary": "Everyone with an email address is checked once: contacts in “Low CLV” (RFM segment "
            "Lost, subscribed to the newsletter) get a personal code by email. Seven days later, those "
            "still in the segment who have not bought get a reminder with the same code.",
            "channels": ["Email"],
            "prepare": [
                "Scores (Segments > Scoring runs): the RFM segment comes from them.",
                "The tag “Newsletter” on newsletter subscribers (import column tags).",
                "Codes for the pool “Low-CLV 15%”.",
            ],
            "options": [],
        },
        {
            "name": "Low-CLV coupon",
            "description": "Once: contacts in Low CLV get a code, and a reminder after 7 days unless they bought.",
            "settings": settings(conversion_window_days=14),
            "steps": [
                step(
                    "entry",
                    "entry",
                    "Everyone with email",
                    {
                        "segment": "Contacts with email",
                        "every": 1,
                        "period": "days",
                        "mode": "everyone",
                        "consent": "email",
                    },
                    0,
                    0,
                ),
                step("in_low", "in_segment", "In Low CLV?", {"segment": "Low CLV"}, 0, 1),
                step("not_low", "end", "Not Low CLV", {}, 1, 1),
                step("coupon", "assign_coupon", "Assign code", {"pool": "Low-CLV 15%"}, 0, 2),
                step("no_codes", "end", "No codes left", {}, 1, 2),
                step("mail", "send_email", "Email with code", {"template": "Low CLV: your code"}, 0, 3),
                step("wait", "wait", "Wait 7 days", {"mode": "duration", "days": 7}, 0, 4),
                step("still", "in_segment", "Still in Low CLV?", {"segment": "Low CLV"}, 0, 5),
                step("left", "end", "Left the segment", {}, 1, 5),
                step(
                    "bought", "has_purchased", "Bought in the last 7 days?", {"more_than": 0, "days": 7}, 0, 6
                ),
                step("won", "end", "Came back", {}, 1, 6),
                step(
                    "reminder", "send_email", "Reminder, same code", {"template": "Low CLV: reminder"}, 0, 7
                ),
                step("done", "end", "Done", {}, 0, 8),
            ],
            "edges": edges(
                ("entry", "next", "in_low"),
                ("in_low", "yes", "coupon"),
                ("in_low", "no", "not_low"),
                ("coupon", "next", "mail"),
                ("coupon", "exhausted", "no_codes"),
                ("mail", "next", "wait"),
                ("wait", "next", "still"),
                ("still", "yes", "bought"),
                ("still", "no", "left"),
                ("bought", "yes", "won"),
                ("bought", "no", "reminder"),
                ("reminder", "next", "done"),
            ),
        },
        segments=[
            {
                "name": "Contacts with email",
                "description": "Every contact with an email address.",
                "rules": {"field": "email", "operator": "is_not_empty"},
            },
            {
                "name": "Low CLV",
                "description": "RFM segment Lost and subscribed to the newsletter (tag Newsletter).",
                "rules": {
                    "op": "and",
                    "rules": [
                        {"field": "rfm_segment", "operator": "in", "value": ["Lost"]},
                        {"field": "tags", "operator": "has_any", "value": ["Newsletter"]},
                    ],
                },
            },
        ],
        pools=[pool("Low-CLV 15%", "percent", "15", "15% off your next order")],
        templates=[
            email(
                "Low CLV: your code",
                "{{ contact.first_name|default:'Hello' }}, 15% off to welcome you back",
                HI + "we have a gift for you</h1><p>It has been a while. To welcome you back, here is "
                "<strong>15% off</strong> your next order with your personal code.</p>",
                preheader="Your personal 15% code",
                coupon=True,
                products=True,
                button=("Shop now", "{{ site_url }}"),
            ),
            email(
                "Low CLV: reminder",
                "{{ contact.first_name|default:'Hello' }}, your 15% code is still waiting",
                HI + "don't forget your code</h1><p>Your personal code for <strong>15% off</strong> is "
                "still valid. Perhaps one of these?</p>",
                preheader="Your code is still valid",
                coupon=True,
                products=True,
                button=("Use my code", "{{ site_url }}"),
            ),
        ],
    )


def at_risk_multichannel() -> dict:
    return document(
        {
            "slug": "at-risk-multichannel",
            "title": "At-risk multichannel",
            "summary": "Every day, contacts who became at risk since the last run (RFM segment changed to "
            "At Risk, or lifecycle stage changed to defecting) get a reserved code by SMS and web push, and "
            "are added to an ad audience for social retargeting, with products picked for them.",
            "channels": ["SMS", "Web push", "Ad audience"],
            "prepare": [
                "SMS and web push set up (Messaging settings); contacts with SMS or push consent.",
                "Codes for the pool “At-risk 15%”.",
                "Upload the audience export “At-risk retargeting” (CSV of hashes) to your ad platform.",
            ],
            "options": [],
        },
        {
            "name": "At-risk multichannel",
            "description": "Daily: contacts who became at risk get their code by SMS and push, and join an ad audience.",
            "settings": settings(conversion_window_days=14),
            "steps": [
                step(
                    "entry",
                    "entry",
                    "Became at risk",
                    {
                        "segment": "Became at risk today",
                        "every": 1,
                        "period": "days",
                        "mode": "new",
                        "consent": "",
                    },
                    0,
                    0,
                ),
                step("coupon", "assign_coupon", "Reserve a code", {"pool": "At-risk 15%"}, 0, 1),
                step("no_codes", "end", "No codes left", {}, 1, 1),
                step("sms", "send_sms", "SMS with code", {"template": "At risk: SMS"}, 0, 2),
                step("push", "send_push", "Push with products", {"template": "At risk: push"}, 0, 3),
                step(
                    "audience",
                    "audience_add",
                    "Social ad audience",
                    {"audience": "At-risk retargeting"},
                    0,
                    4,
                ),
                step("done", "end", "Done", {}, 0, 5),
            ],
            "edges": edges(
                ("entry", "next", "coupon"),
                ("coupon", "next", "sms"),
                ("coupon", "exhausted", "no_codes"),
                ("sms", "next", "push"),
                ("push", "next", "audience"),
                ("audience", "next", "done"),
            ),
        },
        segments=[
            {
                "name": "Became at risk today",
                "description": "RFM segment changed to At Risk, or lifecycle stage changed to defecting, in the last day.",
                "rules": {
                    "op": "or",
                    "rules": [
                        {
                            "field": "score_transition",
                            "operator": "changed",
                            "attribute": "segment",
                            "to": "At Risk",
                            "period": {"last_days": 1},
                        },
                        {
                            "field": "score_transition",
                            "operator": "changed",
                            "attribute": "stage",
                            "to": "defecting",
                            "period": {"last_days": 1},
                        },
                    ],
                },
            }
        ],
        pools=[pool("At-risk 15%", "percent", "15", "15% off your next order", days=21)],
        templates=[
            {
                "name": "At risk: SMS",
                "channel": "sms",
                "sms_text": "{{ shop.name }}: {{ contact.first_name|default:'Hi' }}, 15% off just for you with code "
                "{{ coupon.code }}{% if coupon.expires_at %} (until {{ coupon.expires_at|date:'j M' }}){% endif %}. "
                "{{ site_url }} Reply STOP to opt out.",
            },
            {
                "name": "At risk: push",
                "channel": "push",
                "push_title": "{{ contact.first_name|default:'Hi' }}, 15% off with {{ coupon.code }}",
                "push_body": "{% if recommendations %}{{ recommendations.0.name }} and more picked for you."
                "{% else %}New arrivals picked for you.{% endif %} Code {{ coupon.code }}.",
                "push_url": "{% if recommendations and recommendations.0.url %}{{ recommendations.0.url }}{% else %}{{ site_url }}{% endif %}",
            },
        ],
        audiences=[{"name": "At-risk retargeting"}],
    )


def base_cleanup() -> dict:
    return document(
        {
            "slug": "base-clean-up",
            "title": "Base clean-up",
            "summary": "Contacts who opened no email in 3 months or showed no activity in 6 months get a short "
            "survey asking why. If they do not open it within 15 days, a last call says their profile will be "
            "removed, with a link to stay subscribed. Still inactive 15 days later: anonymized or deleted "
            "(you choose), each one audited.",
            "channels": ["Email", "Survey"],
            "prepare": [
                "Email engagement tracking on (opens and clicks are recorded by default).",
                "Decide between anonymize (keeps orders for reports) and delete.",
            ],
            "options": [
                {
                    "name": "mode",
                    "label": "Inactive contacts at the end",
                    "type": "choice",
                    "choices": [["anonymize", "Anonymize (keep orders for reports)"], ["delete", "Delete"]],
                    "default": "anonymize",
                    "step": "remove",
                    "config": "mode",
                }
            ],
        },
        {
            "name": "Base clean-up",
            "description": "Daily: inactive contacts get a survey, then a last call; still inactive: removed (audited).",
            "settings": settings(conversion_window_days=None),
            "steps": [
                step(
                    "entry",
                    "entry",
                    "Inactive contacts",
                    {
                        "segment": "Inactive base",
                        "every": 1,
                        "period": "days",
                        "mode": "new",
                        "consent": "email",
                    },
                    0,
                    0,
                ),
                step(
                    "survey",
                    "survey",
                    "Why so quiet?",
                    {"survey": "Why did you go quiet?", "template": "Clean-up: survey"},
                    0,
                    1,
                ),
                step("wait1", "wait", "Wait 15 days", {"mode": "duration", "days": 15}, 0, 2),
                step(
                    "opened",
                    "engagement",
                    "Opened the survey?",
                    {"step_key": "survey", "event": "opened"},
                    0,
                    3,
                ),
                step("kept", "end", "Still interested", {}, 1, 3),
                step("last_call", "send_email", "Last call", {"template": "Clean-up: last call"}, 0, 4),
                step("wait2", "wait", "Wait 15 days", {"mode": "duration", "days": 15}, 0, 5),
                step("still", "in_segment", "Still inactive?", {"segment": "Inactive base"}, 0, 6),
                step("back", "end", "Active again", {}, 1, 6),
                step("remove", "contact_data", "Remove the profile", {"mode": "anonymize"}, 0, 7),
            ],
            "edges": edges(
                ("entry", "next", "survey"),
                ("survey", "next", "wait1"),
                ("wait1", "next", "opened"),
                ("opened", "yes", "kept"),
                ("opened", "no", "last_call"),
                ("last_call", "next", "wait2"),
                ("wait2", "next", "still"),
                ("still", "yes", "remove"),
                ("still", "no", "back"),
            ),
        },
        segments=[
            {
                "name": "Inactive base",
                "description": "Can receive email, and opened no email in 3 months or had no activity in 6 months.",
                "rules": {
                    "op": "and",
                    "rules": [
                        {"field": "reachable", "operator": "is", "value": "email"},
                        {
                            "op": "or",
                            "rules": [
                                {"field": "email_opened", "operator": "not_within_last_days", "value": 90},
                                {"field": "last_activity_at", "operator": "more_than_days_ago", "value": 180},
                            ],
                        },
                    ],
                },
            }
        ],
        templates=[
            email(
                "Clean-up: survey",
                "{{ contact.first_name|default:'Hello' }}, may we ask you something?",
                HI + "we have not heard from you</h1><p>We would like to know why, so we can send you "
                "only what you care about. Two questions, one minute.</p>",
                preheader="Two questions, one minute",
                button=("Answer the survey", "{{ survey_url }}"),
            ),
            email(
                "Clean-up: last call",
                "{{ contact.first_name|default:'Hello' }}, should we say goodbye?",
                HI + "is this goodbye?</h1><p>You have not opened our emails for a while. Unless you tell "
                "us otherwise, we will <strong>delete your profile in 15 days</strong> and stop writing "
                "to you.</p><p>Want to stay? One click keeps your subscription.</p>",
                preheader="Your profile will be deleted in 15 days",
                button=("Keep me subscribed", "{{ preferences_url }}"),
            ),
        ],
        surveys=[
            {
                "title": "Why did you go quiet?",
                "intro": "Help us send you only what you care about.",
                "thank_you": "Thank you! We will take it to heart.",
                "questions": [
                    {
                        "text": "Why do you open our emails less often?",
                        "kind": "choice",
                        "choices": "Too many emails, Not relevant to me, I shop elsewhere now, Other",
                        "attribute": "quiet_reason",
                        "order": 1,
                    },
                    {
                        "text": "Anything we could do better?",
                        "kind": "text",
                        "choices": "",
                        "attribute": "quiet_comment",
                        "order": 2,
                    },
                ],
            }
        ],
    )


def clv_inactive() -> dict:
    return document(
        {
            "slug": "clv-inactive-re-engagement",
            "title": "CLV inactive re-engagement",
            "summary": "Between a start and an end date, contacts in the value cluster Inactive who bought in "
            "earlier years get an email with a discount link. Clickers get a thank-you with their code and, a "
            "week later, a store-visit reminder; those who opened but did not click get the offer again in "
            "other words. The report shows how many left the Inactive cluster.",
            "channels": ["Email"],
            "prepare": [
                "Scores with customer value (Segments > Scoring runs): the Inactive cluster comes from them.",
                "Codes for the pool “Re-engagement 20%”.",
                "The campaign's start and end dates.",
            ],
            "options": [
                {
                    "name": "start_at",
                    "label": "Start date",
                    "type": "date",
                    "default": "",
                    "step": "entry",
                    "config": "start_at",
                },
                {
                    "name": "end_at",
                    "label": "End date",
                    "type": "date",
                    "default": "",
                    "step": "entry",
                    "config": "end_at",
                },
            ],
        },
        {
            "name": "CLV inactive re-engagement",
            "description": "Between two dates: Inactive-cluster past buyers get a discount link; clickers a code and a reminder.",
            "settings": settings(conversion_window_days=30),
            "steps": [
                step(
                    "entry",
                    "entry",
                    "Inactive past buyers",
                    {
                        "segment": "Inactive past buyers",
                        "every": 1,
                        "period": "days",
                        "mode": "new",
                        "consent": "email",
                    },
                    0,
                    0,
                ),
                step(
                    "offer", "send_email", "Discount link", {"template": "Re-engagement: discount link"}, 0, 1
                ),
                step("wait3", "wait", "Wait 3 days", {"mode": "duration", "days": 3}, 0, 2),
                step("clicked", "engagement", "Clicked?", {"step_key": "offer", "event": "clicked"}, 0, 3),
                step("coupon", "assign_coupon", "Assign code", {"pool": "Re-engagement 20%"}, 1, 4),
                step(
                    "thanks", "send_email", "Thank you + code", {"template": "Re-engagement: thank you"}, 1, 5
                ),
                step("wait7a", "wait", "Wait 7 days", {"mode": "duration", "days": 7}, 1, 6),
                step(
                    "visit",
                    "send_email",
                    "Store visit reminder",
                    {"template": "Re-engagement: visit reminder"},
                    1,
                    7,
                ),
                step("opened", "engagement", "Opened?", {"step_key": "offer", "event": "opened"}, 0, 4),
                step(
                    "again",
                    "send_email",
                    "Same offer, other words",
                    {"template": "Re-engagement: second try"},
                    0,
                    5,
                ),
                step("wait7b", "wait", "Wait 7 days", {"mode": "duration", "days": 7}, 0, 6),
                step("done", "end", "Done", {}, 0, 8),
                step("not_opened", "end", "Not opened", {}, 1, 3),
            ],
            "edges": edges(
                ("entry", "next", "offer"),
                ("offer", "next", "wait3"),
                ("wait3", "next", "clicked"),
                ("clicked", "yes", "coupon"),
                ("clicked", "no", "opened"),
                ("coupon", "next", "thanks"),
                ("coupon", "exhausted", "done"),
                ("thanks", "next", "wait7a"),
                ("wait7a", "next", "visit"),
                ("visit", "next", "done"),
                ("opened", "yes", "again"),
                ("opened", "no", "not_opened"),
                ("again", "next", "wait7b"),
                ("wait7b", "next", "done"),
            ),
        },
        segments=[
            {
                "name": "Inactive past buyers",
                "description": "Value cluster Inactive, with a purchase before the last 365 days.",
                "rules": {
                    "op": "and",
                    "rules": [
                        {"field": "clv_cluster", "operator": "in", "value": ["Inactive"]},
                        {"field": "last_purchase", "operator": "more_than_days_ago", "value": 365},
                    ],
                },
            }
        ],
        pools=[pool("Re-engagement 20%", "percent", "20", "20% off your next order", days=30)],
        templates=[
            email(
                "Re-engagement: discount link",
                "{{ contact.first_name|default:'Hello' }}, 20% off is waiting for you",
                HI + "it has been too long</h1><p>You were one of our customers in earlier years, and we "
                "miss you. Click below to unlock <strong>20% off</strong> your next order.</p>",
                preheader="Unlock 20% off",
                products=True,
                button=("Unlock my 20%", "{{ site_url }}"),
            ),
            email(
                "Re-engagement: thank you",
                "Here is your 20% code, {{ contact.first_name|default:'friend' }}",
                HI + "thank you for coming back</h1><p>As promised, here is your personal code for "
                "<strong>20% off</strong>.</p>",
                preheader="Your personal 20% code",
                coupon=True,
                products=True,
                button=("Shop now", "{{ site_url }}"),
            ),
            email(
                "Re-engagement: visit reminder",
                "{{ contact.first_name|default:'Hello' }}, drop by the shop this week?",
                HI + "see you soon?</h1><p>Your code for <strong>20% off</strong> is still valid, online "
                "and in our store. We have new things we think you will like.</p>",
                preheader="Your code still works, online and in store",
                coupon=True,
                products=True,
                button=("Visit the shop", "{{ site_url }}"),
            ),
            email(
                "Re-engagement: second try",
                "{{ contact.first_name|default:'Hello' }}, one more thing before you go",
                HI + "a fifth off everything</h1><p>Maybe our last email came at a bad time. The offer "
                "still stands: <strong>20% off</strong> anything in the shop, for you only.</p>",
                preheader="A fifth off everything, for you only",
                products=True,
                button=("Show me the offer", "{{ site_url }}"),
            ),
        ],
    )


PLAYBOOKS = {
    "01-defecting-advocates": defecting_advocates,
    "02-low-clv-coupon": low_clv_coupon,
    "03-at-risk-multichannel": at_risk_multichannel,
    "04-base-clean-up": base_cleanup,
    "05-clv-inactive-re-engagement": clv_inactive,
}


def main() -> None:
    for filename, build in PLAYBOOKS.items():
        path = HERE / f"{filename}.json"
        path.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    import django

    django.setup()
    main()
