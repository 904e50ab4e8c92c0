"""Survey: e-mails a link to a short hosted questionnaire; answers land in contact.attributes."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from journeys.steps.base import Names, model_exists, reference_describe
from journeys.steps.messages import MessageStep

SALT = "journeys.survey"


def survey_token(*, survey_id: int, contact_id: int, enrollment_id: int | None = None) -> str:
    return signing.dumps({"s": survey_id, "c": contact_id, "e": enrollment_id}, salt=SALT, compress=True)


def survey_token_read(token: str, *, max_age_days: int = 90) -> dict:
    return signing.loads(token, salt=SALT, max_age=max_age_days * 86400)


class SendSurvey(MessageStep):
    kind = "survey"
    label = "Survey"
    channel = "email"

    def validate(self, config: dict) -> dict:
        cleaned = super().validate(config)
        cleaned["survey_id"] = model_exists(
            "journeys", "Survey", (config or {}).get("survey_id"), "survey_id"
        )
        return cleaned

    def extra_context(self, *, step, enrollment) -> dict:
        token = survey_token(
            survey_id=step.config["survey_id"], contact_id=enrollment.contact_id, enrollment_id=enrollment.id
        )
        return {"survey_url": settings.SITE_URL + reverse("journeys:survey", args=[token])}

    def describe(self, config: dict, names: Names | None = None) -> str:
        survey = reference_describe(config, "survey_id", names)
        return f"{survey} with {reference_describe(config, 'template_id', names)}"
