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
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from journeys.models import AudienceExport, Edge, Journey, Step, Survey, SurveyQuestion
from journeys.services.lifecycle import journey_graph_validate
from journeys.steps import registry

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


def prefixed(prefix: str, name: str) -> str:
    prefix = (prefix or "").strip()
    return f"{prefix} {name}" if prefix else name


def _check_structure(data: Any) -> list[str]:
    """Shape errors, each naming where in the file: nothing is written when there is any."""
    if not isinstance(data, dict):
        return ["The file is not a JSON object."]
    errors = []
    if data.get("format") != FORMAT:
        errors.append(f"format: expected {FORMAT!r} (is this a Winback journey file?).")
    if data.get("version") != FORMAT_VERSION:
        errors.append(
            f"version: this Winback reads version {FORMAT_VERSION}, the file has {data.get('version')!r}."
        )
    journey = data.get("journey")
    if not isinstance(journey, dict) or not str(journey.get("name") or "").strip():
        return [*errors, "journey: an object with a name is required."]
    steps, edges = journey.get("steps"), journey.get("edges", [])
    if not isinstance(steps, list) or not steps:
        errors.append("journey.steps: a list of steps is required.")
        steps = []
    keys = set()
    for number, step in enumerate(steps, start=1):
        where = f"journey.steps[{number}]"
        if not isinstance(step, dict):
            errors.append(f"{where}: not an object.")
            continue
        key = str(step.get("key") or "")
        if not key or len(key) > 32:
            errors.append(f"{where}: key is required (at most 32 characters).")
        elif key in keys:
            errors.append(f"{where}: key {key!r} is used twice.")
        keys.add(key)
        if step.get("kind") not in registry:
            errors.append(f"{where} ({key}): unknown kind {step.get('kind')!r}.")
        if not isinstance(step.get("config", {}), dict):
            errors.append(f"{where} ({key}): config must be an object.")
        for axis in ("x", "y"):
            if not isinstance(step.get(axis, 0), int):
                errors.append(f"{where} ({key}): {axis} must be a whole number.")
    if not isinstance(edges, list):
        errors.append("journey.edges: a list is required.")
        edges = []
    for number, edge in enumerate(edges, start=1):
        if not isinstance(edge, dict) or edge.get("from") not in keys or edge.get("to") not in keys:
            errors.append(f"journey.edges[{number}]: 'from' and 'to' must be keys of steps in the file.")
    for section in ("segments", "pools", "templates", "surveys", "audiences"):
        if not isinstance(data.get(section, []), list):
            errors.append(f"{section}: a list is required.")
    return errors


class _Importer:
    def __init__(self, data: dict, prefix: str):
        self.data, self.prefix = data, prefix
        self.ids: dict[str, dict[str, int]] = {}  # section -> name in the file -> id here
        self.created: dict[str, list[str]] = {}
        self.reused: dict[str, list[str]] = {}
        self.notes: list[str] = []
        self.errors: list[str] = []

    def _note(self, section: str, name: str, created: bool) -> None:
        (self.created if created else self.reused).setdefault(section, []).append(name)

    def _definitions(self, section: str, name_key: str = "name") -> dict[str, dict]:
        out = {}
        for number, item in enumerate(self.data.get(section, []), start=1):
            name = str((item or {}).get(name_key) or "").strip() if isinstance(item, dict) else ""
            if not name:
                self.errors.append(f"{section}[{number}]: {name_key} is required.")
                continue
            out[name] = item
        return out

    def resolve(self, section: str, name: Any, where: str) -> int | None:
        if str(name) not in self.ids.get(section, {}):
            self.errors.append(f"{where}: {section[:-1]} “{name}” is not defined in the file's {section!r}.")
            return None
        return self.ids[section][str(name)]

    def segments(self) -> None:
        from segments.models import Segment
        from segments.rules import rules_errors
        from segments.services import segment_evaluate

        definitions = self._definitions("segments")
        existing = {
            s.name: s.pk
            for s in Segment.objects.filter(name__in=[prefixed(self.prefix, n) for n in definitions])
        }
        self.ids["segments"] = {
            n: existing[prefixed(self.prefix, n)] for n in definitions if prefixed(self.prefix, n) in existing
        }
        reused = Segment.objects.filter(pk__in=self.ids["segments"].values()).in_bulk()
        for name in definitions:
            if name in self.ids["segments"]:
                self._note("segments", prefixed(self.prefix, name), created=False)
                theirs = definitions[name].get("rules") or {}
                if _rule_names(theirs, "segments"):
                    continue  # uses other segments: not compared
                if reused[self.ids["segments"][name]].rules != self._rules_import(
                    theirs, f"segments “{name}”"
                ):
                    self.notes.append(
                        f"segment “{prefixed(self.prefix, name)}” existed with other rules than the file's: "
                        "it is used as it is (check it, or import with a prefix)."
                    )
        pending = [n for n in definitions if n not in self.ids["segments"]]
        while pending:  # segments using segments: create the used ones first
            ready = [
                n
                for n in pending
                if not (_rule_names(definitions[n].get("rules"), "segments") - set(self.ids["segments"]))
            ]
            if not ready:
                self.errors += [
                    f"segments: “{n}” uses a segment that is not in the file (or a cycle)." for n in pending
                ]
                return
            for name in ready:
                pending.remove(name)
                rules = self._rules_import(definitions[name].get("rules") or {}, f"segments “{name}”")
                problems = rules_errors(rules)
                if problems:
                    self.errors += [
                        f"segments “{name}”, rules {path or '(top)'}: {message}" for path, message in problems
                    ]
                    continue
                segment = Segment.objects.create(
                    name=prefixed(self.prefix, name),
                    description=str(definitions[name].get("description") or ""),
                    rules=rules,
                )
                segment_evaluate(segment=segment)
                self.ids["segments"][name] = segment.pk
                self._note("segments", segment.name, created=True)

    def _rules_import(self, node: Any, where: str) -> Any:
        if isinstance(node, dict) and isinstance(node.get("rules"), list):
            return {**node, "rules": [self._rules_import(child, where) for child in node["rules"]]}
        if isinstance(node, dict) and isinstance(node.get("rule"), dict):
            return {**node, "rule": self._rules_import(node["rule"], where)}
        if isinstance(node, dict) and node.get("field") in RULE_REFERENCES:
            key, section = RULE_REFERENCES[node["field"]]
            value = node.get(key)
            if isinstance(value, dict) and "name" in value:
                if section == "journeys":
                    pk = Journey.objects.filter(name=value["name"]).values_list("pk", flat=True).first()
                    if pk is None:
                        self.errors.append(f"{where}: journey “{value['name']}” does not exist here.")
                    return {**node, key: pk}
                return {**node, key: self.resolve(section, value["name"], where)}
        return node

    def pools(self) -> None:
        from coupons.models import CouponPool

        for name, item in self._definitions("pools").items():
            full = prefixed(self.prefix, name)
            pool = CouponPool.objects.filter(name=full).first()
            if pool is None:
                values = {f: item[f] for f in POOL_FIELDS if item.get(f) is not None}
                try:
                    if "offer_value" in values:
                        values["offer_value"] = Decimal(str(values["offer_value"]))
                    pool = CouponPool(name=full, **values)
                    pool.full_clean(exclude=["valid_until"])
                except (ValidationError, InvalidOperation, TypeError) as exc:
                    messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
                    self.errors.append(f"pools “{name}”: {'; '.join(messages)}")
                    continue
                pool.save()
                self._note("pools", full, created=True)
            else:
                self._note("pools", full, created=False)
            if not pool.codes_total:
                self.notes.append(
                    f"pool “{full}” has no codes yet: generate or import codes before publishing."
                )
            self.ids.setdefault("pools", {})[name] = pool.pk

    def templates(self) -> None:
        from messaging.models import MessageTemplate
        from messaging.services import message_template_save

        for name, item in self._definitions("templates").items():
            full = prefixed(self.prefix, name)
            template = MessageTemplate.objects.filter(name=full).first()
            if template is None:
                values = {f: str(item[f]) for f in TEMPLATE_FIELDS if item.get(f) is not None}
                try:
                    template = message_template_save(template=MessageTemplate(name=full, **values))
                except ValidationError as exc:
                    self.errors.append(f"templates “{name}”: {'; '.join(exc.messages)}")
                    continue
                self._note("templates", full, created=True)
            else:
                self._note("templates", full, created=False)
            self.ids.setdefault("templates", {})[name] = template.pk

    def surveys(self) -> None:
        for title, item in self._definitions("surveys", name_key="title").items():
            full = prefixed(self.prefix, title)
            survey = Survey.objects.filter(title=full).order_by("pk").first()
            if survey is None:
                survey = Survey.objects.create(
                    title=full,
                    intro=str(item.get("intro") or ""),
                    thank_you=str(item.get("thank_you") or "Thank you!"),
                )
                questions = [q for q in item.get("questions") or [] if isinstance(q, dict)]
                SurveyQuestion.objects.bulk_create(
                    [
                        SurveyQuestion(survey=survey, **{f: q[f] for f in QUESTION_FIELDS if f in q})
                        for q in questions
                    ]
                )
                self._note("surveys", full, created=True)
            else:
                self._note("surveys", full, created=False)
            self.ids.setdefault("surveys", {})[title] = survey.pk

    def audiences(self) -> None:
        for name in self._definitions("audiences"):
            export, created = AudienceExport.objects.get_or_create(name=prefixed(self.prefix, name))
            self._note("audiences", export.name, created=created)
            self.ids.setdefault("audiences", {})[name] = export.pk

    def journey(self, user) -> Journey:
        spec = self.data["journey"]
        name = prefixed(self.prefix, str(spec["name"]).strip())
        if Journey.objects.filter(name=name).exists():
            self.errors.append(f"journey: a journey named “{name}” exists already (choose another prefix).")
            return Journey()
        settings_values = {
            k: v for k, v in (spec.get("settings") or {}).items() if k in SETTINGS and v is not None
        }
        journey = Journey(name=name, description=str(spec.get("description") or ""), **settings_values)
        try:
            journey.full_clean()
        except ValidationError as exc:
            self.errors += [f"journey.settings.{k}: {'; '.join(v)}" for k, v in exc.message_dict.items()]
            return journey
        journey.save()
        steps = {}
        for item in spec["steps"]:
            config = {}
            for key, value in (item.get("config") or {}).items():
                reference = next((c for c, (f, _s) in CONFIG_REFERENCES.items() if f == key), None)
                if reference:
                    config[reference] = self.resolve(
                        CONFIG_REFERENCES[reference][1], value, f"step “{item['key']}”"
                    )
                else:
                    config[key] = value
            kind = registry[item["kind"]]
            if None not in config.values():
                try:
                    config = kind.validate(config)
                except ValidationError as exc:
                    self.errors.append(f"step “{item['key']}” ({kind.label}): {'; '.join(exc.messages)}")
            steps[item["key"]] = Step(
                journey=journey, key=item["key"], kind=item["kind"], name=str(item.get("name") or ""),
                config=config, x=int(item.get("x", 0)), y=int(item.get("y", 0)),
            )  # fmt: skip
        if self.errors:
            return journey
        Step.objects.bulk_create(steps.values())
        Edge.objects.bulk_create(
            [
                Edge(
                    journey=journey,
                    from_step=steps[e["from"]],
                    branch=str(e.get("branch") or "next"),
                    to_step=steps[e["to"]],
                )
                for e in spec.get("edges", [])
            ]
        )
        try:
            journey_graph_validate(journey=journey)
        except ValidationError as exc:
            self.notes += [f"the draft does not publish yet: {message}" for message in exc.messages]
        return journey


def _rule_names(node: Any, section: str) -> set[str]:
    if isinstance(node, dict) and isinstance(node.get("rules"), list):
        return (
            set().union(*(_rule_names(child, section) for child in node["rules"])) if node["rules"] else set()
        )
    if isinstance(node, dict) and isinstance(node.get("rule"), dict):
        return _rule_names(node["rule"], section)
    if isinstance(node, dict) and node.get("field") in RULE_REFERENCES:
        key, rule_section = RULE_REFERENCES[node["field"]]
        if rule_section == section and isinstance(node.get(key), dict):
            return {str(node[key].get("name"))}
    return set()


@transaction.atomic
def journey_import(*, data: dict, prefix: str = "", user=None) -> ImportResult:
    """Create a draft journey from a journey file, with what it uses. All or nothing: raises
    ValidationError listing every problem (each naming where in the file) and writes nothing then."""
    errors = _check_structure(data)
    if errors:
        raise ValidationError(errors)
    importer = _Importer(data, prefix)
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
