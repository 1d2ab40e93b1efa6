"""Pages of the segmentation app: the customer panel, policy with preview, rules, runs."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from segmentation import services
from segmentation.models import (
    ClassChange,
    ClassOverride,
    PotentialAdjustment,
    ReclassificationRun,
    RecommendationRule,
    SegmentationPolicy,
    ThirdPartyContract,
)
from tests.factories import CommissionBookingFactory, ContractFactory, CustomerFactory, line
from tests.segmentation.conftest import celery_using
from tests.segmentation.factories import (
    ClassOverrideFactory,
    RecommendationRuleFactory,
    customer_with_revenue,
    only_rules,
)

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TODAY = timezone.localdate()
TOMORROW = TODAY + dt.timedelta(days=1)
YESTERDAY = TODAY - dt.timedelta(days=1)


def panel_url(customer):
    return reverse("segmentation:customer_panel", kwargs={"pk": customer.pk})


# --- the customer panel ------------------------------------------------------------------------


def test_panel_is_a_fragment_for_htmx_and_a_page_otherwise(staff_client):
    customer = customer_with_revenue("100.00")
    services.reclassification_run(as_of=TODAY)

    fragment = staff_client.get(panel_url(customer), **HTMX)
    page = staff_client.get(panel_url(customer))

    assert fragment.status_code == page.status_code == 200
    assert "<html" not in fragment.content.decode()
    assert 'id="segmentation-panel"' in fragment.content.decode()
    assert "<html" in page.content.decode() and 'id="segmentation-panel"' in page.content.decode()


def test_panel_needs_login(client):
    customer = CustomerFactory()
    assert client.get(panel_url(customer)).status_code == 302


def test_panel_explains_revenue_per_contract_components_thresholds_and_history(staff_client, english):
    rule = RecommendationRuleFactory(
        name="PHV for adults", line_of_business=line("041"), expected_commission=Decimal("22.50")
    )
    only_rules(rule)
    customer = CustomerFactory()
    contract = ContractFactory(customer=customer, line_of_business=line("130"), policy_number="HR-4711")
    CommissionBookingFactory(
        contract=contract, booked_on=TODAY - dt.timedelta(days=30), amount=Decimal("450.00")
    )
    CommissionBookingFactory(
        contract=contract, booked_on=TODAY - dt.timedelta(days=20), amount=Decimal("-60.00"), kind="clawback"
    )
    services.reclassification_run(as_of=TODAY)

    html = staff_client.get(panel_url(customer), **HTMX).content.decode()

    customer.refresh_from_db()
    assert (customer.revenue, customer.potential, customer.segment) == (
        Decimal("390.00"),
        Decimal("22.50"),
        "C",
    )
    assert "HR-4711" in html  # the contract the bookings came from
    assert "450.00" in html and "-60.00" in html  # each booking (English number format)
    assert "PHV for adults" in html  # the gap
    assert "Revenue 390.00\xa0€ is below the threshold 400.00\xa0€: low." in html
    assert "Low revenue and low potential: class C." in html
    assert 'id="seg-thresholds"' in html
    assert ClassChange.objects.filter(customer=customer).count() == 1


def test_panel_says_kept_by_hysteresis(staff_client, english):
    only_rules()
    customer = customer_with_revenue("500.00", booked_on=TODAY - dt.timedelta(days=400))
    CommissionBookingFactory(
        contract=customer.contracts.get(), booked_on=TODAY - dt.timedelta(days=10), amount=Decimal("380.00")
    )
    services.reclassification_run(as_of=TODAY - dt.timedelta(days=300))  # 500 in the window: B
    services.reclassification_run(as_of=TODAY)  # 380: below 400, above 360

    html = staff_client.get(panel_url(customer), **HTMX).content.decode()

    customer.refresh_from_db()
    assert customer.segment == "B"
    assert "kept high by hysteresis" in html


def test_panel_shows_override_until_and_computed_class(owner_client, english):
    only_rules()
    customer = customer_with_revenue("50.00")
    services.reclassification_run(as_of=TODAY)
    ClassOverride.objects.create(
        customer=customer,
        segment="A",
        reason="Key account",
        starts_on=TODAY,
        expires_on=TOMORROW,
        computed_class="C",
    )

    html = owner_client.get(panel_url(customer), **HTMX).content.decode()

    assert "Overridden to A until" in html
    assert "Key account" in html


def test_panel_explains_a_customer_without_contracts_or_birth_date(staff_client, english):
    customer = CustomerFactory(birth_date=None)
    services.reclassification_run(as_of=TODAY)

    html = staff_client.get(panel_url(customer), **HTMX).content.decode()

    customer.refresh_from_db()
    assert customer.segment in {"C", "O"}
    assert "Birth date unknown" in html
    assert "No Courtage booked in the revenue window." in html


def test_panel_explains_only_clawbacks(staff_client, english):
    customer = customer_with_revenue("-120.00", lob="BU")
    services.reclassification_run(as_of=TODAY)

    html = staff_client.get(panel_url(customer), **HTMX).content.decode()

    assert "zero or negative and counts as low" in html
    assert "Claw-backs exceed the bookings" in html


def _panel_queries(client, customer) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(panel_url(customer), **HTMX).status_code == 200
    return len(ctx)


def test_panel_query_count_is_constant(staff_client):
    few = CustomerFactory()
    many = CustomerFactory()
    for customer, n in ((few, 2), (many, 40)):
        for i in range(n):
            contract = ContractFactory(customer=customer, line_of_business=line("130"))
            CommissionBookingFactory(
                contract=contract, booked_on=TODAY - dt.timedelta(days=i + 1), amount=Decimal("10")
            )
            ThirdPartyContract.objects.create(
                customer=customer, line_of_business=line("140"), expected_commission=Decimal("5")
            )
            PotentialAdjustment.objects.create(
                customer=customer,
                event="other",
                reason=f"r{i}",
                amount=Decimal("1"),
                valid_from=TODAY,
                expires_on=TOMORROW,
            )
    services.reclassification_run(as_of=TODAY)

    assert _panel_queries(staff_client, few) == _panel_queries(staff_client, many)


# --- Fremdverträge, adjustments, overrides from the panel ----------------------------------------


def test_staff_records_a_third_party_contract(staff_client, staff):
    customer = CustomerFactory()

    response = staff_client.post(
        reverse("segmentation:third_party_add", kwargs={"pk": customer.pk}),
        {
            "tp-line_of_business": line("140").pk,
            "tp-insurer_name": "Fremd AG",
            "tp-expected_commission": "120.00",
        },
        **HTMX,
    )

    assert response.status_code == 200
    contract = ThirdPartyContract.objects.get(customer=customer)
    assert (contract.expected_commission, contract.created_by) == (Decimal("120.00"), staff)
    assert "Fremd AG" in response.content.decode()


def test_third_party_contract_with_negative_commission_is_refused(staff_client, english):
    customer = CustomerFactory()

    response = staff_client.post(
        reverse("segmentation:third_party_add", kwargs={"pk": customer.pk}),
        {"tp-line_of_business": line("140").pk, "tp-expected_commission": "-1.00"},
        **HTMX,
    )

    assert response.status_code == 200
    assert not ThirdPartyContract.objects.exists()
    form = response.context["tp_form"]
    assert form.errors["expected_commission"] == ["This amount cannot be negative."]


def test_third_party_contract_without_javascript_redirects_back_to_the_panel(staff_client):
    customer = CustomerFactory()
    response = staff_client.post(
        reverse("segmentation:third_party_add", kwargs={"pk": customer.pk}),
        {"tp-line_of_business": line("140").pk, "tp-expected_commission": "10"},
    )
    assert response.status_code == 302 and response["Location"] == panel_url(customer)


def test_staff_deletes_a_third_party_contract(staff_client):
    contract = ThirdPartyContract.objects.create(
        customer=CustomerFactory(), line_of_business=line("140"), expected_commission=Decimal("5")
    )
    response = staff_client.post(
        reverse("segmentation:third_party_delete", kwargs={"pk": contract.pk}), **HTMX
    )
    assert response.status_code == 200
    assert not ThirdPartyContract.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"adj-reason": "", "adj-expires_on": TOMORROW.isoformat()}, "reason", "This field is required."),
        (
            {"adj-reason": "Heirat", "adj-expires_on": YESTERDAY.isoformat()},
            "expires_on",
            "The expiry must not lie in the past.",
        ),
    ],
)
def test_adjustment_needs_reason_and_future_expiry(staff_client, english, data, field, message):
    customer = CustomerFactory()
    response = staff_client.post(
        reverse("segmentation:adjustment_add", kwargs={"pk": customer.pk}),
        {"adj-event": "marriage", "adj-amount": "300", **data},
        **HTMX,
    )
    assert response.status_code == 200
    assert response.context["adj_form"].errors[field] == [message]
    assert not PotentialAdjustment.objects.exists()


def test_staff_records_an_adjustment(staff_client):
    customer = CustomerFactory()
    response = staff_client.post(
        reverse("segmentation:adjustment_add", kwargs={"pk": customer.pk}),
        {
            "adj-event": "child",
            "adj-reason": "Geburt",
            "adj-amount": "300",
            "adj-expires_on": TOMORROW.isoformat(),
        },
        **HTMX,
    )
    assert response.status_code == 200
    adjustment = PotentialAdjustment.objects.get(customer=customer)
    assert (adjustment.valid_from, adjustment.amount) == (TODAY, Decimal("300"))


def test_staff_may_not_override(staff_client):
    customer = CustomerFactory()
    response = staff_client.post(
        reverse("segmentation:override_set", kwargs={"pk": customer.pk}),
        {"ovr-segment": "A", "ovr-reason": "x", "ovr-expires_on": TOMORROW.isoformat()},
    )
    assert response.status_code == 403
    assert not ClassOverride.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"ovr-reason": "   ", "ovr-expires_on": TOMORROW.isoformat()}, "reason", "This field is required."),
        (
            {"ovr-reason": "Key account", "ovr-expires_on": YESTERDAY.isoformat()},
            "expires_on",
            "The expiry must not lie in the past.",
        ),
        ({"ovr-reason": "Key account", "ovr-expires_on": ""}, "expires_on", "This field is required."),
    ],
)
def test_override_needs_reason_and_future_expiry(owner_client, english, data, field, message):
    customer = CustomerFactory()
    response = owner_client.post(
        reverse("segmentation:override_set", kwargs={"pk": customer.pk}), {"ovr-segment": "A", **data}, **HTMX
    )
    assert response.status_code == 200
    assert response.context["ovr_form"].errors[field] == [message]
    assert not ClassOverride.objects.exists()
    assert not ClassChange.objects.exists()


def test_owner_overrides_and_ends_the_override(owner_client, owner):
    only_rules()
    customer = customer_with_revenue("50.00")
    services.reclassification_run(as_of=YESTERDAY)

    owner_client.post(
        reverse("segmentation:override_set", kwargs={"pk": customer.pk}),
        {"ovr-segment": "A", "ovr-reason": "Key account", "ovr-expires_on": TOMORROW.isoformat()},
        **HTMX,
    )
    customer.refresh_from_db()
    override = ClassOverride.objects.get(customer=customer)
    assert (customer.segment, override.computed_class, override.created_by) == ("A", "C", owner)

    owner_client.post(reverse("segmentation:override_end", kwargs={"pk": override.pk}), **HTMX)

    customer.refresh_from_db()
    assert customer.segment == "C"
    assert list(
        ClassChange.objects.filter(customer=customer).order_by("date").values_list("new_class", flat=True)
    ) == ["C"]


def test_override_service_refuses_bad_input(owner):
    customer = CustomerFactory()
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as excinfo:
        services.class_override_set(customer=customer, segment="X", reason="", expires_on=YESTERDAY, by=owner)
    assert set(excinfo.value.message_dict) == {"segment", "reason", "expires_on"}


# --- policy ------------------------------------------------------------------------------------


def policy_data(**overrides):
    data = {
        "revenue_method": "absolute",
        "revenue_value": "400",
        "potential_method": "absolute",
        "potential_value": "300",
        "hysteresis_percent": "10",
        "revenue_window_months": "12",
        "note": "",
    }
    data.update(overrides)
    return data


def test_policy_pages_are_for_the_owner_only(staff_client):
    for name in ("segmentation:policy", "segmentation:runs", "segmentation:rule_list"):
        assert staff_client.get(reverse(name)).status_code == 403
    assert staff_client.post(reverse("segmentation:policy"), policy_data()).status_code == 403
    assert staff_client.post(reverse("segmentation:run_now")).status_code == 403


def test_owner_sees_the_policy_with_a_preview(owner_client):
    customer_with_revenue("900.00")
    response = owner_client.get(reverse("segmentation:policy"))
    assert response.status_code == 200
    assert response.context["preview"].customers == 1
    assert 'id="policy-preview"' in response.content.decode()


def test_saving_the_policy_creates_a_new_active_version(owner_client, owner):
    first = SegmentationPolicy.objects.get(is_active=True)

    response = owner_client.post(
        reverse("segmentation:policy"),
        policy_data(revenue_method="pareto", revenue_value="80", note="Pareto"),
    )

    assert response.status_code == 302
    first.refresh_from_db()
    new = SegmentationPolicy.objects.get(is_active=True)
    assert not first.is_active
    assert (new.version, new.revenue_method, new.revenue_value, new.created_by) == (
        first.version + 1,
        "pareto",
        Decimal("80"),
        owner,
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"revenue_value": "-1"}, "revenue_value", "A threshold cannot be negative."),
        ({"potential_value": "-0.01"}, "potential_value", "A threshold cannot be negative."),
        (
            {"revenue_method": "quantile", "revenue_value": "0"},
            "revenue_value",
            "A top quantile must be more than 0 and less than 100 %.",
        ),
        (
            {"revenue_method": "quantile", "revenue_value": "100"},
            "revenue_value",
            "A top quantile must be more than 0 and less than 100 %.",
        ),
        (
            {"potential_method": "pareto", "potential_value": "0"},
            "potential_value",
            "A Pareto share must be more than 0 and at most 100 %.",
        ),
        (
            {"potential_method": "pareto", "potential_value": "100.01"},
            "potential_value",
            "A Pareto share must be more than 0 and at most 100 %.",
        ),
        (
            {"hysteresis_percent": "-5"},
            "hysteresis_percent",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            {"revenue_window_months": "0"},
            "revenue_window_months",
            "Ensure this value is greater than or equal to 1.",
        ),
    ],
)
def test_bad_policy_values_are_refused_at_the_field(owner_client, english, overrides, field, message):
    versions = SegmentationPolicy.objects.count()

    response = owner_client.post(reverse("segmentation:policy"), policy_data(**overrides))

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert SegmentationPolicy.objects.count() == versions


def test_pareto_of_100_is_accepted(owner_client):
    owner_client.post(
        reverse("segmentation:policy"), policy_data(potential_method="pareto", potential_value="100")
    )
    assert SegmentationPolicy.objects.get(is_active=True).potential_value == Decimal("100")


def test_preview_follows_the_edited_thresholds_without_saving(owner_client):
    only_rules()
    for amount in ("100", "300", "600", "1200"):
        customer_with_revenue(amount, booked_on=TODAY - dt.timedelta(days=5))
    services.reclassification_run(as_of=TODAY)
    versions = SegmentationPolicy.objects.count()

    high = owner_client.post(reverse("segmentation:policy_preview"), policy_data(revenue_value="500"), **HTMX)
    low = owner_client.post(reverse("segmentation:policy_preview"), policy_data(revenue_value="250"), **HTMX)
    top = owner_client.post(
        reverse("segmentation:policy_preview"),
        policy_data(revenue_method="quantile", revenue_value="25"),
        **HTMX,
    )

    def sizes(response):
        return {row.segment: row.count for row in response.context["preview"].rows}

    assert "<html" not in high.content.decode()
    assert sizes(high) == {"A": 0, "B": 2, "C": 2, "O": 0}
    assert sizes(low)["B"] == 3
    assert sizes(top)["B"] == 1
    assert high.context["preview"].changes == 0  # 500 vs 400 + hysteresis: 600 and 1200 stay B
    assert SegmentationPolicy.objects.count() == versions


def test_preview_with_errors_shows_them(owner_client, english):
    response = owner_client.post(
        reverse("segmentation:policy_preview"), policy_data(revenue_value="-3"), **HTMX
    )
    assert response.context["preview"] is None
    assert "A threshold cannot be negative." in response.content.decode()


def test_preview_recomputes_revenue_for_another_window(owner_client):
    only_rules()
    customer_with_revenue("900.00", booked_on=TODAY - dt.timedelta(days=200))
    services.reclassification_run(as_of=TODAY)

    response = owner_client.post(
        reverse("segmentation:policy_preview"), policy_data(revenue_window_months="3"), **HTMX
    )

    preview = response.context["preview"]
    assert preview.live_revenue
    assert {row.segment: row.count for row in preview.rows}["C"] == 1


def test_preview_without_javascript_renders_the_page(owner_client):
    response = owner_client.post(reverse("segmentation:policy_preview"), policy_data())
    assert response.status_code == 200 and "<html" in response.content.decode()


# --- rules -------------------------------------------------------------------------------------


def rule_data(**overrides):
    data = {
        "name": "BU",
        "line_of_business": line("BU").pk,
        "customer_kind": "person",
        "min_age": "18",
        "max_age": "54",
        "homeowner": "unknown",
        "car_owner": "unknown",
        "has_children": "unknown",
        "occupations": ["employed", "self_employed"],
        "scope": "customer",
        "expected_commission": "900",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_owner_creates_a_rule(owner_client):
    response = owner_client.post(reverse("segmentation:rule_create"), rule_data(name="BU neu"))
    assert response.status_code == 302
    rule = RecommendationRule.objects.get(name="BU neu")
    assert (rule.occupations, rule.homeowner, rule.min_age) == (["employed", "self_employed"], None, 18)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"min_age": "60", "max_age": "54"}, "max_age", "The maximum age must not be below the minimum age."),
        ({"expected_commission": "-5"}, "expected_commission", "This amount cannot be negative."),
    ],
)
def test_bad_rules_are_refused_at_the_field(owner_client, english, overrides, field, message):
    count = RecommendationRule.objects.count()
    response = owner_client.post(reverse("segmentation:rule_create"), rule_data(name="Bad", **overrides))
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert RecommendationRule.objects.count() == count


def test_rule_list_lists_the_default_rules(owner_client):
    response = owner_client.get(reverse("segmentation:rule_list"))
    assert response.status_code == 200
    codes = {rule.line_of_business.code for rule in response.context["rules"]}
    assert {"041", "130", "140", "051", "BU", "070", "030", "042"} <= codes


# --- runs --------------------------------------------------------------------------------------


def test_run_now_runs_in_process_without_a_broker(owner_client, owner):
    customer_with_revenue("900.00")

    response = owner_client.post(reverse("segmentation:run_now"))

    assert response.status_code == 302
    run = ReclassificationRun.objects.get()
    assert (run.status, run.as_of, run.trigger, run.triggered_by) == ("finished", TODAY, "owner", owner)
    page = owner_client.get(reverse("segmentation:runs"))
    assert f'id="run-{run.pk}"' in page.content.decode()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_now_with_the_broker_down_shows_a_clear_error(owner_client, english):
    # transaction=True: as in production, the request runs outside a transaction, so the task
    # is published (on commit) at once.
    with celery_using("redis://127.0.0.1:1/1", "redis://127.0.0.1:1/2"):
        response = owner_client.post(reverse("segmentation:run_now"), follow=True)

    assert not ReclassificationRun.objects.exists()
    text = [str(m) for m in response.context["messages"]]
    assert any("The job queue (Redis) cannot be reached" in m for m in text)


def test_run_now_queues_the_task_on_commit_when_a_broker_is_configured(
    owner, django_capture_on_commit_callbacks, seg_redis
):
    from unittest import mock

    with celery_using(*seg_redis) as app, mock.patch.object(app, "send_task") as queued:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            assert services.reclassification_queue(as_of=TODAY, by=owner) is None
        assert not queued.called
        for callback in callbacks:
            callback()
    queued.assert_called_once()
    assert queued.call_args.args[0] == "segmentation.tasks.reclassify"
    assert queued.call_args.kwargs["kwargs"]["as_of"] == TODAY.isoformat()


def _runs_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("segmentation:runs")).status_code == 200
    return len(ctx)


def test_run_list_query_count_is_constant(owner_client):
    CustomerFactory.create_batch(3)
    for day in range(3):
        services.reclassification_run(as_of=TODAY - dt.timedelta(days=day), chunk_size=1)
    few = _runs_queries(owner_client)
    for day in range(3, 30):
        services.reclassification_run(as_of=TODAY - dt.timedelta(days=day), chunk_size=1)
    assert _runs_queries(owner_client) == few


def test_policy_page_query_count_is_constant(owner_client):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(reverse("segmentation:policy")).status_code == 200
        return len(ctx)

    typed = {
        "revenue_method": "absolute",
        "potential_method": "absolute",
        "potential_value": Decimal("300"),
        "hysteresis_percent": Decimal("10"),
        "revenue_window_months": 12,
        "note": "",
    }
    services.policy_publish(data={**typed, "revenue_value": Decimal(99)}, by=None)  # a history
    few = count()
    for i in range(20):
        services.policy_publish(data={**typed, "revenue_value": Decimal(100 + i)}, by=None)
    assert count() == few


def test_runs_page_polls_while_a_run_is_running(owner_client):
    CustomerFactory()
    services.reclassification_start(as_of=TODAY)
    html = owner_client.get(reverse("segmentation:runs"), **HTMX).content.decode()
    assert 'hx-trigger="every 3s"' in html
    assert "<html" not in html


def test_override_factory_is_valid():
    override = ClassOverrideFactory()
    override.full_clean()
