"""Journey files: export a journey as one JSON document and import it into any installation.

The file holds the draft graph (steps with their keys, kinds, names, positions and configuration), the
journey's settings, and the definitions of every object the steps use (segments with their rules,
coupon pools without codes, message templates, surveys, ad audiences). Inside the file, configuration
refers to those objects BY NAME (`"segment": "Defecting buyers"`), never by id, so the file moves
between installations. Importing creates what is missing and reuses objects that already have the
name. The playbooks (journeys/playbooks/*.json) are such files. Format: README "Journey files".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from journeys.models import AudienceExport, Edge, Journey, Step, Survey

FORMAT = "winback.journey"
FORMAT_VERSION = 1

# Step configuration key holding an id -> (key in the file, section of the file).
CONFIG_REFERENCES: dict[str, tuple[str, str]] = {
    "segment_id": ("segment", "segments"),
    "pool_id": ("pool", "pools"),
    "template_id": ("template", "templates"),
    "survey_id": ("survey", "surveys"),
    "export_id": ("audience", "audiences"),
}
SETTINGS = (
    "reentry",
    "reentry_days",
    "holdout_percent",
    "conversion_window_days",
    "quiet_hours_start",
    "quiet_hours_end",
    "frequency_cap_messages",
    "frequency_cap_days",
    "frequency_cap_action",
)
POOL_FIELDS = (
    "offer_kind",
    "offer_value",
    "offer_currency",
    "offer_text",
    "valid_days",
    "low_stock_threshold",
)
TEMPLATE_FIELDS = (
    "channel",
    "from_email",
    "subject",
    "html_body",
    "text_body",
    "sms_text",
    "push_title",
    "push_body",
    "push_url",
)
QUESTION_FIELDS = ("text", "kind", "choices", "attribute", "order")
# Segment rule fields whose value is an id of another row -> (rule key holding the id, section).
RULE_REFERENCES = {
    "segment": ("value", "segments"),
    "coupon": ("pool", "pools"),
    "journey": ("value", "journeys"),
}


@dataclass
class ImportResult:
    journey: Journey
    created: dict[str, list[str]] = field(default_factory=dict)  # section -> names created
    reused: dict[str, list[str]] = field(default_factory=dict)  # section -> names that existed
    notes: list[str] = field(default_factory=list)  # e.g. "pool X has no codes yet"

    def object_lines(self) -> list[str]:
        """One line per object created or reused (not the journey)."""
        out = []
        for section in ("segments", "pools", "templates", "surveys", "audiences"):
            out += [f"{section[:-1]}: created “{name}”" for name in self.created.get(section, [])]
            out += [f"{section[:-1]}: reused existing “{name}”" for name in self.reused.get(section, [])]
        return out

    def lines(self) -> list[str]:
        """What happened, one line per object, then the notes: for the command line."""
        return [f"journey: created draft “{self.journey.name}”", *self.object_lines(), *self.notes]


# --- export ------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _rules_export(node: Any, ids: dict[str, set[int]], names: dict[str, dict[int, str]]) -> Any:
    """Rule tree with ids of segments, pools and journeys replaced by {"name": ...}; collects the ids."""
    if isinstance(node, dict) and isinstance(node.get("rules"), list):
        return {**node, "rules": [_rules_export(child, ids, names) for child in node["rules"]]}
    if isinstance(node, dict) and isinstance(node.get("rule"), dict):
        return {**node, "rule": _rules_export(node["rule"], ids, names)}
    if isinstance(node, dict) and node.get("field") in RULE_REFERENCES:
        key, section = RULE_REFERENCES[node["field"]]
        try:
            pk = int(node.get(key))
        except (TypeError, ValueError):
            return node
        ids.setdefault(section, set()).add(pk)
        return {**node, key: {"name": names.get(section, {}).get(pk, f"#{pk}")}}
    return node


def journey_export(*, journey: Journey) -> dict:
    """The journey's draft graph, settings and referenced objects, as a JSON-ready dict."""
    from coupons.models import CouponPool
    from messaging.models import MessageTemplate
    from segments.models import Segment

    steps = list(Step.objects.filter(journey=journey, version=None).order_by("y", "x", "id"))
    edges = Edge.objects.filter(journey=journey, version=None).select_related("from_step", "to_step")
    models = {
        "segments": Segment,
        "pools": CouponPool,
        "templates": MessageTemplate,
        "surveys": Survey,
        "audiences": AudienceExport,
    }
    ids: dict[str, set[int]] = {section: set() for section in models}
    for step in steps:
        for config_key, (_file_key, section) in CONFIG_REFERENCES.items():
            if (step.config or {}).get(config_key) not in (None, ""):
                ids[section].add(int(step.config[config_key]))
    # Segments may use other segments (and pools) in their rules: follow them, a few levels deep.
    segments: dict[int, Segment] = {}
    for _depth in range(5):
        missing = ids["segments"] - set(segments)
        if not missing:
            break
        for segment in Segment.objects.filter(pk__in=missing):
            segments[segment.pk] = segment
            _rules_export(segment.rules, ids, {})
    names = {
        section: dict(
            model.objects.filter(pk__in=ids[section]).values_list(
                "pk", "title" if model is Survey else "name"
            )
        )
        for section, model in models.items()
    }
    names["journeys"] = dict(
        Journey.objects.filter(pk__in=ids.get("journeys", set())).values_list("pk", "name")
    )

    def config_export(config: dict) -> dict:
        out = {}
        for key, value in (config or {}).items():
            if key in CONFIG_REFERENCES and value not in (None, ""):
                file_key, section = CONFIG_REFERENCES[key]
                out[file_key] = names[section].get(int(value), f"#{value}")
            else:
                out[key] = value
        return out

    pools = CouponPool.objects.filter(pk__in=ids["pools"]).order_by("name")
    templates = MessageTemplate.objects.filter(pk__in=ids["templates"]).order_by("name")
    surveys = Survey.objects.filter(pk__in=ids["surveys"]).prefetch_related("questions").order_by("title")
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(timespec="seconds"),
        "journey": {
            "name": journey.name,
            "description": journey.description,
            "settings": {name: _plain(getattr(journey, name)) for name in SETTINGS},
            "steps": [
                {
                    "key": s.key,
                    "kind": s.kind,
                    "name": s.name,
                    "x": s.x,
                    "y": s.y,
                    "config": config_export(s.config),
                }
                for s in steps
            ],
            "edges": sorted(
                ({"from": e.from_step.key, "branch": e.branch, "to": e.to_step.key} for e in edges),
                key=lambda e: (e["from"], e["branch"]),
            ),
        },
        "segments": [
            {"name": s.name, "description": s.description, "rules": _rules_export(s.rules, {}, names)}
            for s in sorted(segments.values(), key=lambda s: s.name)
        ],
        "pools": [{"name": p.name, **{f: _plain(getattr(p, f)) for f in POOL_FIELDS}} for p in pools],
        "templates": [{"name": t.name, **{f: getattr(t, f) for f in TEMPLATE_FIELDS}} for t in templates],
        "surveys": [
            {
                "title": s.title,
                "intro": s.intro,
                "thank_you": s.thank_you,
                "questions": [{f: getattr(q, f) for f in QUESTION_FIELDS} for q in s.questions.all()],
            }
            for s in surveys
        ],
        "audiences": [{"name": name} for name in sorted(names["audiences"].values())],
    }


# --- import ------------------------------------------------------------------------------------


@transaction.atomic
def journey_import(*, data: dict, prefix: str = "", user=None) -> ImportResult:
    """Create a draft journey from a journey file, with what it uses. All or nothing: raises
    ValidationError listing every problem (each naming where in the file) and writes nothing then."""
    from journeys.services.transfer_import import Importer, check_structure

    errors = check_structure(data)
    if errors:
        raise ValidationError(errors)
    importer = Importer(data, prefix)
    importer.pools()  # before segments: rules may name pools
    importer.segments()
    importer.templates()
    importer.surveys()
    importer.audiences()
    journey = importer.journey(user) if not importer.errors else None
    if importer.errors:
        transaction.set_rollback(True)
        raise ValidationError(importer.errors)
    return ImportResult(
        journey=journey, created=importer.created, reused=importer.reused, notes=importer.notes
    )
