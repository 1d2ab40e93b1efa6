"""factory_boy factories for the whole suite."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group

from brokercrm.accounts.models import User
from brokercrm.accounts.roles import OWNER_GROUP, STAFF_GROUP
from customers.models import (
    Activity,
    CommissionBooking,
    Contract,
    Customer,
    Household,
    Insurer,
    LineOfBusiness,
    MarketingConsent,
)

PASSWORD = "Demo-Passwort-2026"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="de_DE")
    last_name = factory.Faker("last_name", locale="de_DE")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if not create:
            return
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
        self.save()


class OwnerFactory(UserFactory):
    username = factory.Sequence(lambda n: f"owner{n}")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get(name=extracted or OWNER_GROUP))
            self.save()


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get(name=extracted or STAFF_GROUP))
            self.save()


class HouseholdFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Household

    name = factory.Faker("last_name", locale="de_DE")


class InsurerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Insurer
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Muster Versicherung {n} AG")


def line(code: str) -> LineOfBusiness:
    return LineOfBusiness.objects.get(code=code)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    number = factory.Sequence(lambda n: f"K{n:07d}")
    kind = Customer.Kind.PERSON
    salutation = "1"
    first_name = factory.Faker("first_name", locale="de_DE")
    name = factory.Faker("last_name", locale="de_DE")
    birth_date = dt.date(1980, 5, 17)
    email = factory.LazyAttribute(lambda c: f"{c.number.lower()}@example.org")
    street = "Hauptstraße 1"
    postal_code = "06526"
    city = "Sangerhausen"
    country = "DE"
    status = Customer.Status.ACTIVE


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    customer = factory.SubFactory(CustomerFactory)
    insurer = factory.SubFactory(InsurerFactory)
    line_of_business = factory.LazyFunction(lambda: line("041"))
    policy_number = factory.Sequence(lambda n: f"PH-{n:08d}")
    status = "1"
    start_date = dt.date(2022, 1, 1)
    main_due_date = dt.date(2022, 1, 1)
    notice_period_months = 3
    payment_frequency = "1"
    annual_premium = Decimal("89.00")


class CommissionBookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommissionBooking

    contract = factory.SubFactory(ContractFactory)
    booked_on = dt.date(2026, 6, 1)
    amount = Decimal("22.25")
    kind = CommissionBooking.Kind.RECURRING


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    customer = factory.SubFactory(CustomerFactory)
    kind = Activity.Kind.CALL
    subject = "Telefonat"


class MarketingConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketingConsent

    customer = factory.SubFactory(CustomerFactory)
    channel = MarketingConsent.Channel.EMAIL
    granted_on = dt.date(2025, 3, 1)
    source = "Formular"
    wording = "Ich willige ein, per E-Mail informiert zu werden."
