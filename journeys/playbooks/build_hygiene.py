# ruff: noqa: E501  (HTML, CSS and playbook copy read better unwrapped)
"""Playbooks 4-5: base clean-up and CLV-inactive re-engagement (see build.py)."""

from __future__ import annotations

from journeys.playbooks.build_parts import HI, document, edges, email, pool, settings, step


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
