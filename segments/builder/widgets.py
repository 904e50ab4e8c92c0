from __future__ import annotations

from django import forms

# Choice lists loaded with the page (bounded: rule_choices reads at most CHOICES_LIMIT rows per source).
CHOICES_LIMIT = 200


class RulesBuilderWidget(forms.Textarea):
    template_name = "segments/builder/widget.html"

    class Media:
        css = {"all": ["segments/builder.css"]}
        js = ["segments/builder.js"]

    def get_context(self, name, value, attrs):
        from segments.rules.catalogue import rule_catalogue, rule_choices

        context = super().get_context(name, value, attrs)
        catalogue = rule_catalogue()
        sources = sorted({field["choices"] for field in catalogue if field["choices"]})
        context["builder"] = {
            "catalogue": catalogue,
            "choices": {source: rule_choices(source, limit=CHOICES_LIMIT) for source in sources},
        }
        return context
