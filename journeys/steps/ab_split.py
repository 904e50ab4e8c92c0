"""A/B split: N variants with percentages, stable per contact (hash of journey id + contact id)."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError

from journeys.steps.base import Names, StepKind, StepResult, require


def stable_percent(journey_id: int, contact_id: int) -> float:
    digest = hashlib.sha256(f"{journey_id}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def pick_variant(variants: list[dict], journey_id: int, contact_id: int) -> str:
    point = stable_percent(journey_id, contact_id)
    edge = 0.0
    for variant in variants:
        edge += float(variant["percent"])
        if point < edge:
            return variant["label"]
    return variants[-1]["label"]


class ABSplit(StepKind):
    kind = "ab_split"
    label = "A/B split"

    def validate(self, config: dict) -> dict:
        variants = require(dict(config or {}), "variants", list)
        cleaned = []
        for variant in variants:
            try:
                label, percent = str(variant["label"]).strip(), float(variant["percent"])
            except (KeyError, TypeError, ValueError):
                raise ValidationError({"variants": "Each variant needs a label and a percent."})
            if not label or percent <= 0:
                raise ValidationError({"variants": "Labels must be set and percents positive."})
            cleaned.append({"label": label, "percent": percent})
        if len(cleaned) < 2 or len({v["label"] for v in cleaned}) != len(cleaned):
            raise ValidationError({"variants": "At least two variants with distinct labels."})
        if abs(sum(v["percent"] for v in cleaned) - 100) > 0.001:
            raise ValidationError({"variants": "Percents must add up to 100."})
        return {"variants": cleaned}

    def branches(self, config: dict) -> list[str]:
        return [v["label"] for v in config.get("variants", [])]

    def run(self, *, step, enrollments, ctx):
        results = {}
        for e in enrollments:
            label = pick_variant(step.config["variants"], e.journey_id, e.contact_id)
            e.variant = label
            results[e.id] = StepResult(label, outcome="assigned")
        return results

    def describe(self, config: dict, names: Names | None = None) -> str:
        return ", ".join(f"{v['label']} {v['percent']:g}%" for v in config.get("variants", []))
