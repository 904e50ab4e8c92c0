# ruff: noqa: E501, S603, S607  (Graphviz attributes read better unwrapped; runs the local `dot`)
"""Draw a playbook's graph with Graphviz, for the README (docs/images/playbook-<slug>.png).

python -m journeys.playbooks.graphs     # needs `dot` (apt-get install graphviz); DJANGO_SETTINGS_MODULE set
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from journeys.playbooks import Playbook, playbooks_list

COLOURS = {
    "entry": "#1f3a5f",
    "end": "#7a7166",
    "send_email": "#c8553d",
    "send_sms": "#c8553d",
    "send_push": "#c8553d",
    "survey": "#c8553d",
    "assign_coupon": "#2e7d4f",
}
REFERENCE_WORDS = {
    "segment": "segment",
    "pool": "pool",
    "template": "template",
    "survey": "survey",
    "audience": "audience",
}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _detail(step: dict) -> str:
    config = step.get("config") or {}
    for key, word in REFERENCE_WORDS.items():
        if key in config and step["kind"] != "survey":
            return f"{word} “{config[key]}”"
    if step["kind"] == "survey":
        return f"survey “{config.get('survey')}”"
    if step["kind"] == "wait":
        return f"{config.get('days')} days"
    if step["kind"] == "attribute_split":
        return config.get("field", "")
    if step["kind"] == "engagement":
        return f"{config.get('event')} step “{config.get('step_key')}”"
    if step["kind"] == "contact_data":
        return config.get("mode", "")
    if step["kind"] == "has_purchased":
        return f"more than {config.get('more_than', 0)} orders in {config.get('days')} days"
    return ""


def playbook_dot(playbook: Playbook) -> str:
    from journeys.steps import registry

    journey = playbook.data["journey"]
    lines = [
        "digraph playbook {",
        '  graph [rankdir=TB, bgcolor="white", pad="0.3", nodesep="0.35", ranksep="0.45", fontname="Helvetica"];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f7f5f2", color="#b9b1a6", fontname="Helvetica", fontsize=11];',
        '  edge [color="#8a8279", fontname="Helvetica", fontsize=10, fontcolor="#4a443e"];',
    ]
    for step in journey["steps"]:
        kind = registry[step["kind"]].label
        colour = COLOURS.get(step["kind"], "#3d6b8c")
        detail = _detail(step)
        label = f'<<font color="{colour}"><b>{_escape(step["name"] or kind)}</b></font><br/><font point-size="9">{_escape(kind)}'
        label += f"<br/>{_escape(detail)}</font>>" if detail else "</font>>"
        lines.append(f'  "{step["key"]}" [label={label}];')
    for edge in journey["edges"]:
        label = "" if edge["branch"] == "next" else f' [label=" {_escape(edge["branch"])} "]'
        lines.append(f'  "{edge["from"]}" -> "{edge["to"]}"{label};')
    lines.append("}")
    return "\n".join(lines)


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for playbook in playbooks_list():
        target = folder / f"playbook-{playbook.slug}.png"
        subprocess.run(
            ["dot", "-Tpng", "-Gdpi=72", "-o", str(target)], input=playbook_dot(playbook).encode(), check=True
        )
        print(f"wrote {target}")


if __name__ == "__main__":
    import django

    django.setup()
    main(Path(__file__).resolve().parents[2] / "docs" / "images")
