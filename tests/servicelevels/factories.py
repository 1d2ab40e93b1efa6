"""Factories of the servicelevels app."""

import datetime as dt

import factory

from servicelevels.models import CareActivity, CareTask, Channel, Performer, Recurrence, ServiceLevel, Track
from tests.factories import CustomerFactory


def level(segment: str) -> ServiceLevel:
    obj, _ = ServiceLevel.objects.get_or_create(segment=segment, defaults={"name": f"Klasse {segment}"})
    return obj


class CareActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareActivity

    service_level = factory.LazyFunction(lambda: level("B"))
    name = factory.Sequence(lambda n: f"Aktivität {n}")
    track = Track.CARE
    recurrence = Recurrence.EVERY_N_MONTHS
    interval_months = 12
    channel = Channel.LETTER
    marketing = False
    minutes = 10
    performer = Performer.STAFF


class CareTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareTask

    customer = factory.SubFactory(CustomerFactory, segment="B")
    activity = factory.SubFactory(CareActivityFactory)
    occurrence = factory.LazyAttribute(lambda t: t.due_date)
    due_date = dt.date(2026, 4, 15)
    channel = factory.LazyAttribute(lambda t: t.activity.channel)
    planned_on = dt.date(2026, 4, 1)
    scope_key = factory.Sequence(lambda n: n + 1)
