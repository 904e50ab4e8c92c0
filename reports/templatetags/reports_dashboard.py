"""`{% dashboard_data as dash %}` for templates/admin/index.html: the admin index stays Django's view."""

from __future__ import annotations

from django import template

from reports.charts import chart
from reports.permissions import dashboard_parts
from reports.selectors.dashboard import dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def dashboard_data(context) -> dict:
    data = dashboard()
    show = data["show"] = dashboard_parts(context["request"].user)
    if not show["journeys"]:
        data["journeys"] = []
    if not show["coupons"]:
        data["coupons"] = {}
    if not show["audience"]:
        data.update(
            stages=[], segments=[], at_risk_contacts=0, at_risk_revenue=None, reactivated_this_month=0
        )
    if not show["messages"]:
        data["messages"] = {**data["messages"], "series": {}, "totals": {}}
    messages = data["messages"]
    data["charts"] = {
        "stages": chart(
            title="Contacts by lifecycle stage",
            labels=[s["label"] for s in data["stages"]],
            datasets=[("Contacts", [s["contacts"] for s in data["stages"]])],
            value_label="Contacts",
            horizontal=True,
        ),
        "segments": chart(
            title="Contacts by RFM segment",
            labels=[s["label"] for s in data["segments"]],
            datasets=[("Contacts", [s["contacts"] for s in data["segments"]])],
            value_label="Contacts",
            horizontal=True,
        ),
        "messages": chart(
            title="Messages per day, last 30 days",
            labels=messages["days"],
            datasets=[(key.capitalize(), messages["series"][key]) for key in messages["series"]],
            value_label="Messages per day",
            category_label="Day",
        ),
    }
    return data
