# ruff: noqa: E501  (HTML, CSS and playbook copy read better unwrapped)
"""Playbooks 1-3: defecting advocates, low-CLV coupon, at-risk multichannel (see build.py)."""

from __future__ import annotations

from journeys.playbooks.build_parts import HI, document, edges, email, pool, settings, step


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
