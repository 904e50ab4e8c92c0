"""The hosted survey page: /journeys/survey/<signed token>/ (no login; the token is the key)."""

from __future__ import annotations

from django.core import signing
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from journeys.models import Survey
from journeys.services.surveys import survey_answer_clean, survey_answers_store
from journeys.steps.survey import survey_token_read


@require_http_methods(["GET", "POST"])
def survey(request, token: str):
    try:
        data = survey_token_read(token)
    except signing.BadSignature:
        raise Http404("This survey link is not valid or has expired.")
    survey = Survey.objects.filter(pk=data["s"]).prefetch_related("questions").first()
    if survey is None:
        raise Http404("This survey no longer exists.")
    questions = list(survey.questions.all())
    errors: dict[int, str] = {}
    if request.method == "POST":
        answers = {}
        for question in questions:
            value = survey_answer_clean(request.POST.get(f"q{question.pk}", ""))
            if question.kind == "choice" and value and value not in question.choice_list:
                errors[question.pk] = "Please pick one of the choices."
            elif question.kind == "scale" and value and value not in {"1", "2", "3", "4", "5"}:
                errors[question.pk] = "Please pick 1 to 5."
            elif value:
                answers[question.attribute] = int(value) if question.kind == "scale" else value
        if not errors:
            survey_answers_store(contact_id=data["c"], answers=answers)
            return render(request, "journeys/survey_done.html", {"survey": survey})
    return render(
        request,
        "journeys/survey.html",
        {"survey": survey, "questions": questions, "errors": errors, "posted": request.POST},
    )
