"""Factories for the segmentation models, and helpers to build small books."""

import datetime as dt
from decimal import Decimal

import factory

from segmentation.models import (
    ClassOverride,
    PotentialAdjustment,
    RecommendationRule,
    SegmentationPolicy,
    ThirdPartyContract,
)
from tests.factories import (
    CommissionBookingFactory,
    ContractFactory,
    CustomerFactory,
    line,
)


class RecommendationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecommendationRule

    name = factory.Sequence(lambda n: f"Regel {n}")
    line_of_business = factory.LazyFunction(lambda: line("041"))
    expected_commission = Decimal("25.00")


class ThirdPartyContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ThirdPartyContract

    customer = factory.SubFactory(CustomerFactory)
    line_of_business = factory.LazyFunction(lambda: line("130"))
    insurer_name = "Andere Versicherung AG"
    expected_commission = Decimal("35.00")


class PotentialAdjustmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PotentialAdjustment

    customer = factory.SubFactory(CustomerFactory)
    event = PotentialAdjustment.Event.HOUSE_PURCHASE
    reason = "Hauskauf geplant"
    amount = Decimal("250.00")
    valid_from = dt.date(2026, 1, 1)
    expires_on = dt.date(2026, 12, 31)


class ClassOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClassOverride

    customer = factory.SubFactory(CustomerFactory)
    segment = "A"
    reason = "Schlüsselkunde"
    starts_on = dt.date(2026, 1, 1)
    expires_on = dt.date(2026, 12, 31)


def set_policy(**fields) -> SegmentationPolicy:
    """Replaces the active policy's values in place (tests only; the UI publishes versions)."""
    policy = SegmentationPolicy.objects.get(is_active=True)
    for key, value in fields.items():
        setattr(policy, key, value)
    policy.save()
    return policy


def only_rules(*rules: RecommendationRule) -> None:
    """Deactivates the seeded default rules so a test controls every gap."""
    RecommendationRule.objects.exclude(pk__in=[r.pk for r in rules]).update(is_active=False)


def customer_with_revenue(
    amount: str | Decimal, *, booked_on=dt.date(2026, 3, 1), lob="041", **customer_fields
):
    """A customer with one active contract in ``lob`` and one booking of ``amount``."""
    customer = CustomerFactory(**customer_fields)
    amount = Decimal(amount)
    contract = ContractFactory(customer=customer, line_of_business=line(lob))
    if amount:
        CommissionBookingFactory(
            contract=contract,
            booked_on=booked_on,
            amount=amount,
            kind="clawback" if amount < 0 else "recurring",
        )
    return customer


def build_book(n: int, *, seed: int = 7):
    """A varied book of ``n`` customers (deterministic): persons and companies, households,
    homeowners, cars, children, occupations, contracts active and cancelled, bookings in and
    out of the window, claw-backs, Fremdverträge, adjustments, one former customer per 25."""
    import random

    from customers.models import Customer, Household

    rnd = random.Random(seed)
    occupations = ["employed", "self_employed", "retired", "student", "", "civil_servant"]
    lines = ["041", "130", "140", "051", "070", "030", "BU", "010"]
    households = [Household.objects.create(name=f"Haushalt {i}") for i in range(max(1, n // 8))]
    customers = []
    for i in range(n):
        company = rnd.random() < 0.1
        born = (
            None
            if rnd.random() < 0.1
            else dt.date(rnd.randint(1940, 2010), rnd.randint(1, 12), rnd.randint(1, 28))
        )
        customer = CustomerFactory(
            kind=Customer.Kind.COMPANY if company else Customer.Kind.PERSON,
            birth_date=born,
            occupation="" if company else rnd.choice(occupations),
            homeowner=rnd.random() < 0.3,
            cars=rnd.choice([0, 0, 1, 1, 2, 3]),
            children=rnd.choice([0, 0, 1, 2]),
            marital_status=rnd.choice(["", "1", "2"]),
            household=rnd.choice(households) if (not company and rnd.random() < 0.4) else None,
            status=Customer.Status.FORMER if i % 25 == 24 else Customer.Status.ACTIVE,
        )
        customers.append(customer)
        for _ in range(rnd.choice([0, 1, 1, 2, 3, 4, 6])):
            contract = ContractFactory(
                customer=customer,
                line_of_business=line(rnd.choice(lines)),
                status=rnd.choice(["1", "1", "1", "4", "6"]),
            )
            for _ in range(rnd.choice([0, 1, 2, 3])):
                kind = rnd.choice(["recurring", "recurring", "acquisition", "clawback"])
                amount = Decimal(rnd.randint(100, 90000)) / 100
                CommissionBookingFactory(
                    contract=contract,
                    booked_on=dt.date(2025, 1, 1) + dt.timedelta(days=rnd.randint(0, 600)),
                    amount=-amount if kind == "clawback" else amount,
                    kind=kind,
                )
        if rnd.random() < 0.1:
            ThirdPartyContractFactory(customer=customer, line_of_business=line(rnd.choice(lines)))
        if rnd.random() < 0.05:
            PotentialAdjustmentFactory(customer=customer, amount=Decimal(rnd.randint(-200, 800)))
    return customers
