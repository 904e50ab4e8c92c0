"""The rules package's public surface: case-insensitive text on tags and attributes, and the catalogue a
segment builder renders."""

import pytest

from contacts.models import Contact, Product, Tag
from segments.models import Segment
from segments.rules import CHOICE_SOURCES, FIELDS, OPERATORS, rule_catalogue, rule_choices, rules_compile
from tests.segments.helpers import contact

pytestmark = pytest.mark.django_db


def _members(tree) -> set[int]:
    return set(Contact.objects.filter(rules_compile(tree)).values_list("pk", flat=True))


def test_tag_names_compare_case_insensitively():
    vip, regular, untagged = contact(), contact(), contact()
    vip.tags.add(Tag.objects.create(name="VIP"))
    regular.tags.add(Tag.objects.create(name="Regular"))

    assert _members({"field": "tags", "operator": "has_any", "value": ["vip"]}) == {vip.pk}
    assert _members({"field": "tags", "operator": "has_all", "value": ["Vip", "vIP"]}) == {vip.pk}
    assert _members({"field": "tags", "operator": "has_none", "value": ["vip", "REGULAR"]}) == {untagged.pk}


def test_attribute_text_compares_case_insensitively_and_numbers_exactly():
    dormant = contact(attributes={"referral_activity": "Dormant", "count": 3})
    active = contact(attributes={"referral_activity": "ACTIVE", "count": 30})
    contact(attributes={})

    assert _members(
        {"field": "attribute", "key": "referral_activity", "operator": "eq", "value": "dormant"}
    ) == {dormant.pk}
    assert _members(
        {"field": "attribute", "key": "referral_activity", "operator": "ne", "value": "DORMANT"}
    ) >= {active.pk}
    assert dormant.pk not in _members(
        {"field": "attribute", "key": "referral_activity", "operator": "ne", "value": "DORMANT"}
    )
    assert _members(
        {"field": "attribute", "key": "referral_activity", "operator": "contains", "value": "act"}
    ) == {active.pk}
    assert _members({"field": "attribute", "key": "count", "operator": "eq", "value": 3}) == {dormant.pk}


def test_catalogue_lists_every_field_with_labelled_operators_and_value_shapes():
    catalogue = rule_catalogue()
    assert [entry["key"] for entry in catalogue] == list(FIELDS)
    by_key = {entry["key"]: entry for entry in catalogue}
    rfm = by_key["rfm_segment"]
    assert rfm["type"] == "choice" and rfm["choices"] == "rfm_segments" and rfm["group"] == "Scores"
    assert {"key": "in", "label": "is any of", "value": "list"} in rfm["operators"]
    assert by_key["last_purchase"]["type"] == "date"
    assert {"key": "more_than_days_ago", "label": "more than N days ago", "value": "days"} in by_key[
        "last_purchase"
    ]["operators"]
    assert by_key["tags"]["choices"] == "tags"
    assert by_key["attribute"]["params"] == ["key"]
    assert all(op["value"] == "one" for op in by_key["segment"]["operators"])
    assert all(op["value"] == "none" for op in by_key["coupon"]["operators"])
    for entry in catalogue:
        assert entry["example"]["field"] == entry["key"]
        assert not entry["choices"] or entry["choices"] in CHOICE_SOURCES
        assert all(op["key"] in OPERATORS for op in entry["operators"])


def test_every_choice_source_answers_with_value_label_pairs(django_assert_max_num_queries):
    contact(attributes={"referral_activity": "Active"}).tags.add(Tag.objects.create(name="VIP"))
    Product.objects.create(sku="SKU-1", name="Boots", category="shoes", brand="Acme")
    Segment.objects.create(name="Lapsed", rules={})
    for source in CHOICE_SOURCES:
        with django_assert_max_num_queries(1):
            choices = rule_choices(source)
        assert all(set(choice) == {"value", "label"} for choice in choices), source
    assert rule_choices("tags", search="vi") == [{"value": "VIP", "label": "VIP"}]
    assert rule_choices("attribute_keys") == [{"value": "referral_activity", "label": "referral_activity"}]
    assert rule_choices("categories") == [{"value": "shoes", "label": "shoes"}]
    assert {"value": "defecting", "label": "Defecting"} in rule_choices("lifecycle_stages", search="defect")
    with pytest.raises(ValueError, match="unknown choices source"):
        rule_choices("planets")
