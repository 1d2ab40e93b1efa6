import datetime as dt

import pytest

from servicelevels.models import CareActivity, CostSettings

from .factories import level

AS_OF = dt.date(2026, 4, 15)  # a Wednesday


@pytest.fixture
def empty_catalogue(db):
    """The four service levels without the seeded activities, so a test names its own."""
    CareActivity.objects.all().delete()
    return {segment: level(segment) for segment in "ABCO"}


@pytest.fixture
def cost_settings(db):
    return CostSettings.load()
