"""Issue 10 relies on it: the demo shop holds members of every RFM segment and lifecycle stage."""

import pytest

from contacts.services.demo import demo_seed
from segments.models import LifecycleStage, ScoringRun
from segments.rfm import segment_map_current
from segments.services import scoring_run_execute


@pytest.mark.django_db
def test_demo_shop_has_every_segment_stage_and_cluster():
    demo_seed(contacts=5000, seed=42)  # the demo shop `make run` seeds
    run = scoring_run_execute(run=ScoringRun.objects.create())
    assert run.status == "done", run.error
    dist = run.distribution
    empty = [name for name in segment_map_current().names if not dist["segments"].get(name)]
    assert empty == [], dist
    assert set(dist["stages"]) == set(LifecycleStage.values), dist
    # A real drop-out pattern: the BG/NBD fit converges (no limit model), so every value cluster has members.
    assert not run.clv_fit.get("fallback_reason"), run.clv_fit
    assert all(dist["clusters"].get(name) for name in ("High", "Medium", "Low", "Inactive")), dist["clusters"]
    assert all(count > 0 for count in dist["histograms"]["f"])


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [42, 2, 5])
def test_small_demo_shops_have_every_cluster(seed):
    """The size the playbook and journey tests seed (400), on seeds that used to end in the limit model."""
    demo_seed(contacts=400, seed=seed)
    run = scoring_run_execute(run=ScoringRun.objects.create())
    assert run.status == "done", run.error
    assert not run.clv_fit.get("fallback_reason"), run.clv_fit
    assert all(run.distribution["clusters"].get(name) for name in ("High", "Medium", "Low", "Inactive"))
    assert set(run.distribution["stages"]) == set(LifecycleStage.values)
