"""Snapshots of everything the reclassification job writes, to compare two runs."""

from customers.models import Customer
from segmentation.models import ClassChange, ClassOverride, PotentialComponent, ReclassificationRun


def snapshot() -> dict[str, list]:
    return {
        "customers": list(
            Customer.objects.order_by("id").values_list(
                "id", "segment", "segment_since", "revenue", "potential", "biggest_gap_id", "classified_at"
            )
        ),
        "history": list(
            ClassChange.objects.order_by("customer_id", "date").values_list(
                "customer_id",
                "date",
                "old_class",
                "new_class",
                "computed_class",
                "revenue",
                "potential",
                "source",
                "reason",
                "policy_id",
            )
        ),
        "components": list(
            PotentialComponent.objects.order_by("customer_id", "kind", "source_id").values_list(
                "customer_id", "kind", "source_id", "line_of_business_id", "value", "label"
            )
        ),
        "overrides": list(
            ClassOverride.objects.order_by("id").values_list("id", "computed_class", "ended_on")
        ),
    }


def reset_classification() -> None:
    """Back to a book that was never classified."""
    Customer.objects.update(
        segment="", segment_since=None, revenue=0, potential=0, biggest_gap=None, classified_at=None
    )
    ClassChange.objects.all().delete()
    PotentialComponent.objects.all().delete()
    ClassOverride.objects.update(computed_class="", ended_on=None)
    ReclassificationRun.objects.all().delete()
