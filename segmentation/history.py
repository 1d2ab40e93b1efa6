"""The audit trail of the segmentation settings for the policy page: policy versions (each
compared with the version before it) and recommendation rules, read through
``customers.history`` (django-simple-history rows, written by the services' saves).

Class overrides are audited too; they appear in the customer page's audit trail, found there
through their relation to the customer. The nightly job writes none of these rows: its
set-based statements (computed class, ending expired overrides) have the class history."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from customers.history import HISTORY_LIMIT, HistoryEntry, HistorySource, history_entries

from .models import RecommendationRule, SegmentationPolicy

# Fields that differ between any two versions by construction; the note is the entry's reason.
POLICY_UNCOMPARED = ("id", "version", "is_active", "note", "created_by")


def _previous_version(history):
    """The latest row of the version before this one."""
    return Subquery(
        history._default_manager.filter(version__lt=OuterRef("version"))
        .order_by("-version", "-history_date", "-history_id")
        .values("history_id")[:1]
    )


def _policy_subject(record) -> str:
    return f"{SegmentationPolicy._meta.verbose_name} v{record.version}"


def _rule_subject(record) -> str:
    return f"{RecommendationRule._meta.verbose_name}: {record.name}"


def policy_history(*, limit: int = HISTORY_LIMIT) -> list[HistoryEntry]:
    """Who published which policy version when, with what changed against the version before,
    and who created or changed which recommendation rule; newest first."""
    return history_entries(
        [
            HistorySource(
                SegmentationPolicy.history.filter(history_type="+"),
                _policy_subject,
                predecessor=_previous_version,
                diff_created=True,
                excluded_fields=POLICY_UNCOMPARED,
            ),
            # A version changed in place (the admin and services never do; a shell might).
            HistorySource(
                SegmentationPolicy.history.filter(history_type="~"),
                _policy_subject,
                excluded_fields=("version",),
            ),
            HistorySource(RecommendationRule.history.all(), _rule_subject),
        ],
        limit=limit,
    )
