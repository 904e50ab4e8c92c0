"""Declare the winner of an A/B split: new entrants all go down the winner's branch.

Done as an edit of the draft graph plus a normal publish (journey_publish), so the versions list shows
it: every edge into the A/B step is pointed at the step the winner's branch led to, the A/B step is
removed, and steps only the other branches reached are removed from the draft. Contacts in flight stay on
the version they entered (frozen), so those on a losing branch finish it undisturbed.
Unpublished edits in the draft are published along with it (the draft is what publishing freezes).
"""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from journeys.models import Edge, Journey, JourneyVersion, Step
from journeys.services.lifecycle import journey_publish


@transaction.atomic
def journey_declare_winner(*, journey: Journey, step_key: str, variant: str, user=None) -> JourneyVersion:
    """Publish a new version where the A/B step `step_key` sends everybody down `variant`'s branch."""
    journey = Journey.objects.select_for_update().get(pk=journey.pk)
    if journey.current_version_id is None:
        raise ValidationError("The journey has no published version yet.")
    live = Step.objects.filter(version=journey.current_version, key=step_key, kind="ab_split").first()
    if live is None:
        raise ValidationError("That A/B split is not part of the published version.")
    labels = [v["label"] for v in live.config.get("variants", [])]
    if variant not in labels:
        raise ValidationError(f"{variant!r} is not a variant of this split (variants: {', '.join(labels)}).")
    split = Step.objects.filter(journey=journey, version=None, key=step_key, kind="ab_split").first()
    if split is None:
        raise ValidationError("The draft no longer has this A/B split; publish or revert the draft first.")
    winner_edge = Edge.objects.filter(from_step=split, branch=variant).first()
    target_id = winner_edge.to_step_id if winner_edge else None
    incoming = list(Edge.objects.filter(to_step=split))
    if target_id is None:  # the winner's branch ended the journey: so do the edges into the split now
        Edge.objects.filter(pk__in=[e.pk for e in incoming]).delete()
    else:
        Edge.objects.filter(pk__in=[e.pk for e in incoming]).update(to_step_id=target_id)
    split.delete()  # its outgoing edges go with it
    _draft_prune_unreachable(journey=journey)
    version = journey_publish(journey=journey, user=user)
    audit_record(
        user=user,
        action="journey.declare_winner",
        obj=journey,
        changes={"step": step_key, "winner": variant, "version": version.number},
    )
    return version


def _draft_prune_unreachable(*, journey: Journey) -> None:
    steps = dict(Step.objects.filter(journey=journey, version=None).values_list("id", "kind"))
    out = defaultdict(list)
    for a, b in Edge.objects.filter(journey=journey, version=None).values_list("from_step_id", "to_step_id"):
        out[a].append(b)
    frontier = [sid for sid, kind in steps.items() if kind == "entry"]
    reachable = set(frontier)
    while frontier:
        for nxt in out[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    Step.objects.filter(pk__in=set(steps) - reachable).delete()
