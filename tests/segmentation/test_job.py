"""The reclassification job (services + jobsql): revenue, potential, classes, hysteresis,
overrides, history, idempotency and resumption. Runs on SQLite and on PostgreSQL with the same
expected figures."""

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import Customer
from segmentation import services
from segmentation.models import (
    ClassChange,
    ClassOverride,
    PotentialComponent,
    ReclassificationRun,
    RecommendationRule,
    RunChunk,
    RunStatus,
    ThresholdMethod,
)
from tests.factories import CommissionBookingFactory, ContractFactory, CustomerFactory, HouseholdFactory, line
from tests.segmentation.factories import (
    ClassOverrideFactory,
    PotentialAdjustmentFactory,
    RecommendationRuleFactory,
    ThirdPartyContractFactory,
    build_book,
    customer_with_revenue,
    only_rules,
    set_policy,
)
from tests.segmentation.state import reset_classification, snapshot

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 6, 30)


def run(as_of=AS_OF, **kwargs):
    return services.reclassification_run(as_of=as_of, **kwargs)


def refreshed(customer):
    customer.refresh_from_db()
    return customer


# --- revenue -----------------------------------------------------------------------------------


def test_revenue_is_bookings_in_window_before_as_of_with_clawbacks_negative():
    only_rules()
    customer = CustomerFactory()
    contract = ContractFactory(customer=customer)
    other = ContractFactory(customer=customer, line_of_business=line("130"))
    for booked_on, amount, kind in [
        (dt.date(2025, 6, 30), "100.00", "recurring"),  # window start is exclusive
        (dt.date(2025, 7, 1), "22.25", "recurring"),
        (dt.date(2026, 6, 30), "400.10", "acquisition"),  # as-of day is inclusive
        (dt.date(2026, 7, 1), "999.00", "recurring"),  # after as-of
    ]:
        CommissionBookingFactory(contract=contract, booked_on=booked_on, amount=Decimal(amount), kind=kind)
    CommissionBookingFactory(
        contract=other, booked_on=dt.date(2026, 1, 15), amount=Decimal("-50.05"), kind="clawback"
    )

    run()

    assert refreshed(customer).revenue == Decimal("372.30")


def test_revenue_window_follows_the_policy():
    only_rules()
    set_policy(revenue_window_months=3)
    customer = customer_with_revenue("80.00", booked_on=dt.date(2026, 3, 30))
    contract = customer.contracts.get()
    CommissionBookingFactory(contract=contract, booked_on=dt.date(2026, 4, 1), amount=Decimal("10.00"))

    finished = run()

    assert finished.window_start == dt.date(2026, 3, 30)
    assert refreshed(customer).revenue == Decimal("10.00")


# --- potential ---------------------------------------------------------------------------------


def test_gap_for_recommended_line_not_held_actively():
    rule = RecommendationRuleFactory(line_of_business=line("041"), expected_commission=Decimal("22.50"))
    only_rules(rule)
    holder = CustomerFactory()
    ContractFactory(customer=holder, line_of_business=line("041"), status="1")
    cancelled = CustomerFactory()
    ContractFactory(customer=cancelled, line_of_business=line("041"), status="4")
    paid_up = CustomerFactory()
    ContractFactory(customer=paid_up, line_of_business=line("041"), status="6")
    nothing = CustomerFactory()

    run()

    assert refreshed(holder).potential == 0
    assert refreshed(paid_up).potential == 0
    assert refreshed(cancelled).potential == Decimal("22.50")
    assert refreshed(nothing).potential == Decimal("22.50")
    component = PotentialComponent.objects.get(customer=nothing)
    assert (component.kind, component.line_of_business.code, component.label, component.source_id) == (
        "gap",
        "041",
        rule.name,
        rule.pk,
    )


def test_age_bounds_are_inclusive_and_unknown_age_does_not_apply():
    rule = RecommendationRuleFactory(line_of_business=line("BU"), min_age=18, max_age=54)
    only_rules(rule)
    just_18 = CustomerFactory(birth_date=dt.date(2008, 6, 30))
    not_yet_18 = CustomerFactory(birth_date=dt.date(2008, 7, 1))
    age_54 = CustomerFactory(birth_date=dt.date(1971, 7, 1))
    just_55 = CustomerFactory(birth_date=dt.date(1971, 6, 30))
    unknown = CustomerFactory(birth_date=None)

    run()

    with_gap = set(PotentialComponent.objects.values_list("customer_id", flat=True))
    assert with_gap == {just_18.pk, age_54.pk}
    assert not {not_yet_18.pk, just_55.pk, unknown.pk} & with_gap
    assert refreshed(unknown).segment == "C"


def test_profile_conditions_kind_occupation_homeowner_children_marital_status():
    rule = RecommendationRuleFactory(
        customer_kind="person",
        occupations=["employed", "self_employed"],
        homeowner=True,
        has_children=True,
        marital_statuses=["2"],
    )
    only_rules(rule)
    fits = CustomerFactory(occupation="employed", homeowner=True, children=2, marital_status="2")
    others = [
        CustomerFactory(
            kind="company", occupation="employed", homeowner=True, children=2, marital_status="2"
        ),
        CustomerFactory(occupation="retired", homeowner=True, children=2, marital_status="2"),
        CustomerFactory(occupation="", homeowner=True, children=2, marital_status="2"),
        CustomerFactory(occupation="self_employed", homeowner=False, children=2, marital_status="2"),
        CustomerFactory(occupation="employed", homeowner=True, children=0, marital_status="2"),
        CustomerFactory(occupation="employed", homeowner=True, children=1, marital_status="1"),
    ]

    run()

    assert set(PotentialComponent.objects.values_list("customer_id", flat=True)) == {fits.pk}
    assert all(refreshed(c).potential == 0 for c in others)


def test_household_rule_counts_the_line_once_per_household():
    rule = RecommendationRuleFactory(line_of_business=line("130"), scope="household", min_age=18)
    only_rules(rule)
    covered = HouseholdFactory()
    a = CustomerFactory(household=covered)
    b = CustomerFactory(household=covered)
    ContractFactory(customer=b, line_of_business=line("130"))
    open_household = HouseholdFactory()
    child = CustomerFactory(household=open_household, birth_date=dt.date(2015, 1, 1))  # lowest id, rule n/a
    first_adult = CustomerFactory(household=open_household)
    second_adult = CustomerFactory(household=open_household)
    single = CustomerFactory(household=None)

    run()

    with_gap = set(PotentialComponent.objects.values_list("customer_id", flat=True))
    assert with_gap == {first_adult.pk, single.pk}
    assert not {a.pk, b.pk, child.pk, second_adult.pk} & with_gap


def test_per_car_rule_counts_cars_without_cover():
    rule = RecommendationRuleFactory(
        line_of_business=line("051"), car_owner=True, per_car=True, expected_commission=Decimal("45.00")
    )
    only_rules(rule)
    three_cars = CustomerFactory(cars=3)
    ContractFactory(customer=three_cars, line_of_business=line("051"))
    all_covered = CustomerFactory(cars=1)
    ContractFactory(customer=all_covered, line_of_business=line("051"))
    no_car = CustomerFactory(cars=0)

    run()

    assert refreshed(three_cars).potential == Decimal("90.00")
    assert refreshed(all_covered).potential == 0
    assert refreshed(no_car).potential == 0


def test_fremdvertrag_counts_instead_of_the_gap_in_its_line():
    gap_rule = RecommendationRuleFactory(line_of_business=line("130"), expected_commission=Decimal("30.00"))
    only_rules(gap_rule)
    customer = CustomerFactory()
    ThirdPartyContractFactory(
        customer=customer,
        line_of_business=line("130"),
        insurer_name="Fremd AG",
        expected_commission=Decimal("41.00"),
    )

    run()

    components = list(
        PotentialComponent.objects.filter(customer=customer).values_list("kind", "value", "label")
    )
    assert components == [("third_party", Decimal("41.00"), "Hausrat · Fremd AG")]
    assert refreshed(customer).potential == Decimal("41.00")


def test_adjustments_count_only_while_in_force():
    only_rules()
    customer = CustomerFactory()
    PotentialAdjustmentFactory(
        customer=customer, amount=Decimal("250.00"), valid_from=dt.date(2026, 1, 1), expires_on=AS_OF
    )
    PotentialAdjustmentFactory(
        customer=customer, amount=Decimal("-30.00"), reason="Rente", valid_from=AS_OF, expires_on=AS_OF
    )
    PotentialAdjustmentFactory(customer=customer, amount=Decimal("999.00"), expires_on=dt.date(2026, 6, 29))
    PotentialAdjustmentFactory(customer=customer, amount=Decimal("999.00"), valid_from=dt.date(2026, 7, 1))

    run()

    assert refreshed(customer).potential == Decimal("220.00")
    labels = set(PotentialComponent.objects.filter(customer=customer).values_list("label", flat=True))
    assert labels == {"Hauskauf geplant", "Rente"}


def test_biggest_gap_is_the_gap_with_the_highest_value_and_components_add_up():
    small = RecommendationRuleFactory(line_of_business=line("041"), expected_commission=Decimal("22.50"))
    big = RecommendationRuleFactory(line_of_business=line("BU"), expected_commission=Decimal("900.00"))
    only_rules(small, big)
    customer = CustomerFactory()
    ThirdPartyContractFactory(
        customer=customer, line_of_business=line("140"), expected_commission=Decimal("1000")
    )

    run()

    customer = refreshed(customer)
    assert customer.biggest_gap.code == "BU"
    assert customer.potential == Decimal("1922.50")
    assert sum(customer.potential_components.values_list("value", flat=True)) == customer.potential


def test_default_rules_give_a_young_employee_without_contracts_an_o():
    customer = CustomerFactory(birth_date=dt.date(1990, 1, 1), occupation="employed", cars=1)

    run()

    customer = refreshed(customer)
    lines = set(customer.potential_components.values_list("line_of_business__code", flat=True))
    assert lines == {"041", "130", "051", "BU", "070"}
    assert customer.potential == Decimal("1047.50")
    assert customer.segment == "O"
    assert customer.biggest_gap.code == "BU"


# --- classes -----------------------------------------------------------------------------------


def test_class_from_revenue_and_potential_thresholds():
    set_policy(revenue_value=Decimal("400"), potential_value=Decimal("300"))
    only_rules()
    a = customer_with_revenue("400.00")
    PotentialAdjustmentFactory(customer=a, amount=Decimal("300.00"))
    b = customer_with_revenue("1200.00")
    c = customer_with_revenue("399.99")
    o = customer_with_revenue("10.00")
    PotentialAdjustmentFactory(customer=o, amount=Decimal("5000.00"))

    finished = run()

    assert [refreshed(x).segment for x in (a, b, c, o)] == ["A", "B", "C", "O"]
    assert finished.transitions == {"->A": 1, "->B": 1, "->C": 1, "->O": 1}
    assert finished.class_summary["B"] == {"count": 1, "revenue": "1200.00", "potential": "0.00"}


def test_customers_without_contracts_birth_date_or_with_only_clawbacks_get_a_class():
    set_policy(revenue_value=Decimal("0"), potential_value=Decimal("0"))
    no_contracts = CustomerFactory(birth_date=None)
    clawbacks_only = customer_with_revenue("-300.00", lob="BU", birth_date=None)
    company = CustomerFactory(kind="company", birth_date=None, first_name="")

    run()

    # A threshold of 0 makes every positive value high; zero and negative values stay low.
    assert refreshed(no_contracts).segment == "O"  # Hausrat and Rechtsschutz need no age
    assert refreshed(clawbacks_only).revenue == Decimal("-300.00")
    assert refreshed(clawbacks_only).segment == "O"
    assert refreshed(company).segment == "O"  # Betriebshaftpflicht
    only_rules()
    run(as_of=AS_OF + dt.timedelta(days=1))
    assert refreshed(no_contracts).segment == "C"
    assert refreshed(clawbacks_only).segment == "C"


def test_former_customers_are_not_classified():
    former = customer_with_revenue("5000.00", status=Customer.Status.FORMER)

    run()

    former = refreshed(former)
    assert former.segment == ""
    assert former.revenue == Decimal("5000.00")
    assert former.classified_at == AS_OF


def test_history_records_every_change_with_figures_and_policy():
    only_rules()
    customer = customer_with_revenue("500.00", booked_on=dt.date(2025, 8, 1))

    first = run()
    second = run(as_of=dt.date(2026, 8, 15))  # the booking left the window

    customer = refreshed(customer)
    assert customer.segment == "C"
    assert customer.segment_since == dt.date(2026, 8, 15)
    rows = list(
        ClassChange.objects.filter(customer=customer)
        .order_by("date")
        .values_list(
            "date", "old_class", "new_class", "computed_class", "revenue", "source", "run_id", "policy_id"
        )
    )
    assert rows == [
        (AS_OF, "", "B", "B", Decimal("500.00"), "computed", first.pk, first.policy_id),
        (dt.date(2026, 8, 15), "B", "C", "C", Decimal("0.00"), "computed", second.pk, first.policy_id),
    ]
    assert second.transitions == {"B->C": 1}


# --- hysteresis --------------------------------------------------------------------------------


def test_hysteresis_keeps_a_side_within_the_margin_and_moves_beyond_it():
    # T = 400, margin 10 %: stay high down to 360.00, become high from 440.00 on.
    only_rules()
    set_policy(revenue_value=Decimal("400"), hysteresis_percent=Decimal("10"))
    high_kept = customer_with_revenue("500.00", booked_on=dt.date(2026, 6, 1))
    high_lost = customer_with_revenue("500.00", booked_on=dt.date(2026, 6, 1))
    low_kept = customer_with_revenue("100.00", booked_on=dt.date(2026, 6, 1))
    low_won = customer_with_revenue("100.00", booked_on=dt.date(2026, 6, 1))
    run()
    assert [refreshed(c).segment for c in (high_kept, high_lost, low_kept, low_won)] == ["B", "B", "C", "C"]

    # Next month the old bookings leave the window and new ones come in.
    day = dt.date(2027, 6, 2)
    for customer, amount in [
        (high_kept, "360.00"),
        (high_lost, "359.99"),
        (low_kept, "439.99"),
        (low_won, "440.00"),
    ]:
        CommissionBookingFactory(contract=customer.contracts.get(), booked_on=day, amount=Decimal(amount))
    finished = run(as_of=day)

    assert [refreshed(c).segment for c in (high_kept, high_lost, low_kept, low_won)] == ["B", "C", "C", "B"]
    assert finished.transitions == {"B->C": 1, "C->B": 1}


def test_first_classification_uses_the_threshold_itself():
    only_rules()
    set_policy(revenue_value=Decimal("400"), hysteresis_percent=Decimal("10"))
    at_threshold = customer_with_revenue("400.00")
    below = customer_with_revenue("399.99")

    run()

    assert refreshed(at_threshold).segment == "B"
    assert refreshed(below).segment == "C"


# --- overrides ---------------------------------------------------------------------------------


def test_override_pins_the_class_and_the_computed_class_is_still_recorded(owner):
    only_rules()
    customer = customer_with_revenue("50.00")
    run()
    assert refreshed(customer).segment == "C"

    override = services.class_override_set(
        customer=customer,
        segment="A",
        reason="Key account",
        expires_on=dt.date(2026, 12, 31),
        by=owner,
        today=dt.date(2026, 7, 1),
    )
    assert refreshed(customer).segment == "A"
    CommissionBookingFactory(
        contract=customer.contracts.get(), booked_on=dt.date(2026, 7, 1), amount=Decimal("900")
    )
    finished = run(as_of=dt.date(2026, 7, 1))

    customer, override = refreshed(customer), refreshed(override)
    assert customer.segment == "A"
    assert override.computed_class == "B"
    assert finished.overrides_active == 1
    assert finished.changed == 0
    rows = list(
        ClassChange.objects.filter(customer=customer)
        .order_by("date")
        .values_list("new_class", "source", "reason")
    )
    assert rows == [("C", "computed", ""), ("A", "override", "Key account")]


def test_expired_override_returns_to_the_computed_class():
    only_rules()
    customer = customer_with_revenue("900.00")
    override = ClassOverrideFactory(customer=customer, segment="C", expires_on=AS_OF)
    run()
    assert refreshed(customer).segment == "C"
    assert refreshed(override).computed_class == "B"

    finished = run(as_of=AS_OF + dt.timedelta(days=1))

    assert refreshed(customer).segment == "B"
    assert refreshed(override).ended_on == AS_OF + dt.timedelta(days=1)
    assert finished.overrides_ended == 1
    last = ClassChange.objects.filter(customer=customer).latest("date")
    assert (last.old_class, last.new_class, last.source) == ("C", "B", "override_ended")
    assert run(as_of=AS_OF + dt.timedelta(days=2)).changed == 0


def test_override_and_run_on_the_same_day_keep_one_history_row(owner):
    only_rules()
    customer = customer_with_revenue("900.00")
    run()  # B
    services.class_override_set(
        customer=customer,
        segment="A",
        reason="Test",
        expires_on=AS_OF + dt.timedelta(days=5),
        by=owner,
        today=AS_OF + dt.timedelta(days=1),
    )
    override = ClassOverride.objects.get(customer=customer, ended_on__isnull=True)
    services.class_override_end(override=override, by=owner, today=AS_OF + dt.timedelta(days=1))

    assert not ClassChange.objects.filter(customer=customer, date=AS_OF + dt.timedelta(days=1)).exists()
    assert refreshed(customer).segment == "B"
    assert run(as_of=AS_OF + dt.timedelta(days=1)).changed == 0


# --- quantile and Pareto thresholds (two passes) -----------------------------------------------


def _revenues(*amounts):
    return [customer_with_revenue(a) for a in amounts]


def test_top_quantile_threshold_is_the_value_at_rank_ceil_n_x():
    only_rules()
    set_policy(revenue_method=ThresholdMethod.QUANTILE, revenue_value=Decimal("25"), hysteresis_percent=0)
    customers = _revenues("100", "200", "300", "400", "500", "600", "700", "800", "900", "1000")

    finished = run(chunk_size=3)

    assert finished.two_pass
    assert finished.revenue_threshold == Decimal("800.00")  # rank ceil(10 * 0.25) = 3
    assert [refreshed(c).segment for c in customers].count("B") == 3
    assert not ReclassificationRun.objects.get(pk=finished.pk).chunks.filter(done_at__isnull=True).exists()


def test_pareto_threshold_includes_the_customer_crossing_the_share():
    only_rules()
    set_policy(revenue_method=ThresholdMethod.PARETO, revenue_value=Decimal("80"), hysteresis_percent=0)
    # total 1000: 500 (50 %), +300 = 80 % reached with the second; -100 and 0 never count.
    customers = _revenues("500", "300", "100", "60", "40", "-100", "0")

    finished = run(chunk_size=2)

    assert finished.revenue_threshold == Decimal("300.00")
    assert [refreshed(c).segment for c in customers] == ["B", "B", "C", "C", "C", "C", "C"]


def test_pareto_of_100_percent_makes_every_positive_value_high():
    only_rules()
    set_policy(revenue_method=ThresholdMethod.PARETO, revenue_value=Decimal("100"), hysteresis_percent=0)
    customers = _revenues("500", "0.01", "-5")

    finished = run()

    assert finished.revenue_threshold == Decimal("0.01")
    assert [refreshed(c).segment for c in customers] == ["B", "B", "C"]


# --- idempotency, resumption, dry run ----------------------------------------------------------


def test_second_run_for_the_same_day_changes_nothing():
    build_book(80)
    run(chunk_size=9)
    before = snapshot()
    component_ids = sorted(PotentialComponent.objects.values_list("id", flat=True))
    history_count = ClassChange.objects.count()

    again = run(chunk_size=9)

    assert snapshot() == before
    assert sorted(PotentialComponent.objects.values_list("id", flat=True)) == component_ids
    assert ClassChange.objects.count() == history_count
    assert (again.changed, again.figures_changed, again.transitions) == (0, 0, {})


@pytest.mark.parametrize("method", [ThresholdMethod.ABSOLUTE, ThresholdMethod.PARETO])
def test_interrupted_run_resumes_to_the_state_of_an_uninterrupted_run(method):
    set_policy(revenue_method=method, revenue_value=Decimal("80") if method == "pareto" else Decimal("400"))
    build_book(90)
    started = services.reclassification_start(as_of=AS_OF, chunk_size=10)
    for chunk_id in started.chunks.order_by("phase", "index").values_list("id", flat=True)[:5]:
        services.reclassification_chunk_process(chunk_id=chunk_id)
    services.reclassification_fail(run_id=started.pk, error="worker lost")

    resumed = run(chunk_size=10)

    assert resumed.pk == started.pk
    assert resumed.status == RunStatus.FINISHED
    interrupted_state, interrupted_transitions = snapshot(), resumed.transitions
    reset_classification()
    uninterrupted = run(chunk_size=10)
    assert snapshot() == interrupted_state
    assert uninterrupted.transitions == interrupted_transitions
    assert ClassChange.objects.count() == sum(interrupted_transitions.values())


def test_chunk_done_twice_is_skipped():
    build_book(12)
    started = services.reclassification_start(as_of=AS_OF, chunk_size=5)
    chunk = started.chunks.first()

    assert services.reclassification_chunk_process(chunk_id=chunk.pk) is True
    assert services.reclassification_chunk_process(chunk_id=chunk.pk) is False


def test_classify_phase_refuses_before_thresholds_are_resolved():
    set_policy(revenue_method=ThresholdMethod.QUANTILE, revenue_value=Decimal("20"))
    build_book(5)
    started = services.reclassification_start(as_of=AS_OF, chunk_size=5)
    classify = started.chunks.get(phase=RunChunk.Phase.CLASSIFY)

    with pytest.raises(services.ReclassificationError):
        services.reclassification_chunk_process(chunk_id=classify.pk)


def test_dry_run_reports_counts_and_leaves_everything_unchanged():
    build_book(40)
    before = snapshot()

    dry = run(dry_run=True, chunk_size=7)

    assert snapshot() == before
    assert dry.status == RunStatus.DRY_RUN
    assert dry.changed > 0 and sum(dry.transitions.values()) == dry.changed
    assert ReclassificationRun.objects.count() == 1
    assert not RunChunk.objects.exists()
    real = run(chunk_size=7)
    assert real.transitions == dry.transitions


def test_rules_are_snapshot_per_run_so_chunks_agree():
    rule = RecommendationRuleFactory(expected_commission=Decimal("10"))
    only_rules(rule)
    CustomerFactory.create_batch(4)
    started = services.reclassification_start(as_of=AS_OF, chunk_size=2)
    first = started.chunks.order_by("index").first()
    services.reclassification_chunk_process(chunk_id=first.pk)
    RecommendationRule.objects.filter(pk=rule.pk).update(expected_commission=Decimal("99"))

    run(chunk_size=2)

    assert set(PotentialComponent.objects.values_list("value", flat=True)) == {Decimal("10.00")}


def test_an_unfinished_run_of_another_day_is_abandoned_not_resumed():
    build_book(10)
    stale = services.reclassification_start(as_of=AS_OF, chunk_size=4)
    services.reclassification_chunk_process(chunk_id=stale.chunks.first().pk)

    newer = run(as_of=AS_OF + dt.timedelta(days=1), chunk_size=4)

    stale.refresh_from_db()
    assert stale.status == RunStatus.ABANDONED
    assert newer.status == RunStatus.FINISHED
    again = run(as_of=AS_OF, chunk_size=4)
    assert again.pk != stale.pk and again.status == RunStatus.FINISHED
