"""Importing a journey file (see journeys/services/transfer.py for the format and journey_import)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError

from journeys.models import AudienceExport, Edge, Journey, Step, Survey, SurveyQuestion
from journeys.services.lifecycle import journey_graph_validate
from journeys.services.transfer import (
    CONFIG_REFERENCES,
    FORMAT,
    FORMAT_VERSION,
    POOL_FIELDS,
    QUESTION_FIELDS,
    RULE_REFERENCES,
    SETTINGS,
    TEMPLATE_FIELDS,
)
from journeys.steps import registry


def prefixed(prefix: str, name: str) -> str:
    prefix = (prefix or "").strip()
    return f"{prefix} {name}" if prefix else name


def check_structure(data: Any) -> list[str]:
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


class Importer:
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
