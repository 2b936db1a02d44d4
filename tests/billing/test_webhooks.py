"""Stripe webhooks through the real /stripe/webhook/: signatures, each handled event's effect on the profile,
replays, every delivery order, transient failures, and the past-due grace period."""

import itertools
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from djstripe.models import Event, WebhookEventTrigger

from accounts.models import Profile
from billing import limits, services
from moderation.models import AuditLog
from tests.billing.conftest import WEBHOOK_SECRET, deliver, invoice, stripe_customer_for, subscription
from tests.billing.fake_stripe import event_payload, recorded, sign
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(stripe_catalog, user):
    return stripe_customer_for(stripe_catalog, user)


def profile_of(user) -> Profile:
    return Profile.objects.get(user=user)


def max_projects_for(user) -> int:
    return limits.plan_limits_for(profile_of(user).user)["max_active_projects"]


def plan_of(user) -> tuple[str, str]:
    profile = profile_of(user)
    return profile.subscription_tier, profile.subscription_status


# --- signatures ----------------------------------------------------------------------------------------


def test_a_missing_or_bad_signature_is_a_400_that_changes_and_stores_nothing(stripe_catalog, customer, user):
    client = Client()
    sub = subscription(stripe_catalog, customer=customer)
    event = event_payload("customer.subscription.created", sub)
    body = __import__("json").dumps(event).encode()
    attempts = [
        {},  # no header
        {"HTTP_STRIPE_SIGNATURE": "garbage"},
        {"HTTP_STRIPE_SIGNATURE": sign(body, "whsec_someone_else")},
        {"HTTP_STRIPE_SIGNATURE": sign(body, WEBHOOK_SECRET, timestamp=int(timezone.now().timestamp()) - 3600)},
        {"HTTP_STRIPE_SIGNATURE": sign(body + b" ", WEBHOOK_SECRET)},  # the body was changed after signing
    ]
    for headers in attempts:
        response = client.post("/stripe/webhook/", data=body, content_type="application/json", **headers)
        assert response.status_code == 400, headers
        assert response.json()["error"]["code"] == "bad_signature"
    assert plan_of(user) == ("free", "active")
    assert not WebhookEventTrigger.objects.exists() and not Event.objects.exists()


def test_the_debug_secret_override_header_is_ignored(stripe_catalog, customer, user, settings):
    """dj-stripe lets X-Djstripe-Webhook-Secret replace the secret while DEBUG is on; an attacker who signs
    with their own secret and sends it in that header still gets a 400."""
    settings.DEBUG = True
    sub = subscription(stripe_catalog, customer=customer)
    event = event_payload("customer.subscription.created", sub)
    body = __import__("json").dumps(event).encode()
    response = Client().post(
        "/stripe/webhook/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, "whsec_attacker"),
        HTTP_X_DJSTRIPE_WEBHOOK_SECRET="whsec_attacker",
    )
    assert response.status_code == 400
    assert plan_of(user) == ("free", "active")


def test_without_a_configured_secret_events_are_refused_for_retry(stripe_catalog, customer, settings):
    settings.DJSTRIPE_WEBHOOK_SECRET = ""
    response, _ = deliver(Client(), "customer.subscription.created", subscription(stripe_catalog, customer=customer))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "webhook_not_configured"


def test_only_post_is_accepted(stripe_catalog):
    assert Client().get("/stripe/webhook/").status_code == 405


# --- each handled event ----------------------------------------------------------------------------------


def test_checkout_completed_links_the_customer_and_sets_the_plan(stripe_catalog, user):
    """The customer was made outside our pages (a payment link): the session's client_reference_id links it."""
    customer = stripe_catalog.add({**recorded("customer"), "id": "cus_paymentlink", "metadata": {}})
    sub = subscription(stripe_catalog, customer=customer["id"])
    session = {
        **recorded("checkout_session"),
        "customer": customer["id"],
        "subscription": sub["id"],
        "client_reference_id": str(user.pk),
        "status": "complete",
        "payment_status": "paid",
    }
    stripe_catalog.add(session)
    response, event = deliver(Client(), "checkout.session.completed", session)
    assert response.status_code == 200, response.content
    profile = profile_of(user)
    assert (profile.subscription_tier, profile.subscription_status, profile.stripe_customer_id) == (
        "pro", "active", "cus_paymentlink"
    )
    row = AuditLog.objects.get(action="billing.plan_sync")
    assert row.metadata["new"] == {"tier": "pro", "status": "active"}
    assert row.metadata["old"] == {"tier": "free", "status": "active"}
    assert event["id"] in row.metadata["source"]


@pytest.mark.parametrize(
    ("event_type", "status", "price", "expected"),
    [
        ("customer.subscription.created", "trialing", "price_pro_monthly", ("pro", "trialing")),
        ("customer.subscription.created", "incomplete", "price_pro_monthly", ("free", "incomplete")),
        ("customer.subscription.updated", "active", "price_enterprise_monthly", ("enterprise", "active")),
        ("customer.subscription.updated", "past_due", "price_pro_monthly", ("pro", "past_due")),
        ("customer.subscription.deleted", "canceled", "price_pro_monthly", ("free", "canceled")),
    ],
)
def test_subscription_events_set_tier_and_status(stripe_catalog, customer, user, event_type, status, price, expected):
    sub = subscription(stripe_catalog, customer=customer, status=status, price=price)
    response, _ = deliver(Client(), event_type, sub)
    assert response.status_code == 200, response.content
    assert plan_of(user) == expected
    assert profile_of(user).stripe_customer_id == customer


def test_invoice_paid_and_payment_failed(stripe_catalog, customer, user, time_machine):
    time_machine.move_to("2026-12-01T10:00:00Z", tick=False)
    sub = subscription(stripe_catalog, customer=customer, status="active")
    paid = invoice(stripe_catalog, customer=customer, subscription_id=sub["id"])
    assert deliver(Client(), "invoice.paid", paid)[0].status_code == 200
    assert plan_of(user) == ("pro", "active")

    stripe_catalog.update(sub["id"], status="past_due")
    failed = invoice(stripe_catalog, customer=customer, subscription_id=sub["id"], status="open", paid=False)
    assert deliver(Client(), "invoice.payment_failed", failed)[0].status_code == 200
    profile = profile_of(user)
    assert (profile.subscription_tier, profile.subscription_status) == ("pro", "past_due")
    assert profile.subscription_grace_until == timezone.now() + timedelta(days=7)


def test_an_event_for_a_customer_of_nobody_here_is_acknowledged_and_ignored(stripe_catalog):
    stranger = stripe_catalog.add({**recorded("customer"), "id": "cus_elsewhere", "metadata": {}})
    response, _ = deliver(Client(), "customer.subscription.created", subscription(stripe_catalog, customer=stranger["id"]))
    assert response.status_code == 200
    assert not AuditLog.objects.filter(action="billing.plan_sync").exists()


# --- replays and ordering --------------------------------------------------------------------------------


def test_the_same_event_three_times_is_processed_once(stripe_catalog, customer, user):
    sub = subscription(stripe_catalog, customer=customer)
    event = event_payload("customer.subscription.created", sub)
    client = Client()
    for _ in range(3):
        response, _ = deliver(client, event["type"], sub, event=event)
        assert response.status_code == 200
    assert plan_of(user) == ("pro", "active")
    assert Event.objects.filter(id=event["id"]).count() == 1
    assert WebhookEventTrigger.objects.filter(valid=True).count() == 3
    assert AuditLog.objects.filter(action="billing.plan_sync").count() == 1
    lists = [r for r in stripe_catalog.requests if r["path"] == "/v1/subscriptions" and r["method"] == "GET"]
    assert len(lists) == 1  # the repeats were recognised before any work


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_a_shuffled_sequence_ends_in_the_newest_state_in_every_order(stripe_catalog, user, order):
    """created (active) -> updated to past_due -> updated back to active, delivered in every order: the
    plan ends as Stripe has it now (active Pro), never as the last-delivered snapshot says."""
    customer = stripe_customer_for(stripe_catalog, user)
    created = subscription(stripe_catalog, customer=customer, status="active", sub_id="sub_shuffled")
    past_due = {**created, "status": "past_due"}
    recovered = {**created, "status": "active"}
    events = [
        event_payload("customer.subscription.created", created, created=1_767_225_600),
        event_payload("customer.subscription.updated", past_due, created=1_767_225_660, previous={"status": "active"}),
        event_payload("customer.subscription.updated", recovered, created=1_767_225_720, previous={"status": "past_due"}),
    ]
    client = Client()
    for index in order:
        response, _ = deliver(client, events[index]["type"], events[index]["data"]["object"], event=events[index])
        assert response.status_code == 200
    profile = profile_of(user)
    assert (profile.subscription_tier, profile.subscription_status) == ("pro", "active")
    assert profile.subscription_grace_until is None


def test_a_late_old_event_does_not_roll_a_cancellation_back(stripe_catalog, customer, user):
    sub = subscription(stripe_catalog, customer=customer, status="active")
    old_created = event_payload("customer.subscription.created", sub)
    stripe_catalog.update(sub["id"], status="canceled", ended_at=1_767_312_000)
    deleted = event_payload("customer.subscription.deleted", stripe_catalog.get(sub["id"]))
    client = Client()
    assert deliver(client, deleted["type"], None, event=deleted)[0].status_code == 200
    assert deliver(client, old_created["type"], None, event=old_created)[0].status_code == 200
    assert plan_of(user) == ("free", "canceled")


# --- transient failures ----------------------------------------------------------------------------------


def test_stripe_failing_mid_event_answers_503_and_the_redelivery_succeeds(stripe_catalog, customer, user):
    sub = subscription(stripe_catalog, customer=customer)
    event = event_payload("customer.subscription.created", sub)
    stripe_catalog.fail_next("/v1/subscriptions", status=500, times=10)
    client = Client()
    response, _ = deliver(client, event["type"], sub, event=event)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "retry_later"
    assert not Event.objects.filter(id=event["id"]).exists()  # rolled back: the retry processes it again
    assert plan_of(user) == ("free", "active")
    stripe_catalog.reset_failures()
    response, _ = deliver(client, event["type"], sub, event=event)
    assert response.status_code == 200
    assert plan_of(user) == ("pro", "active")


# --- the grace period ------------------------------------------------------------------------------------


def test_past_due_keeps_the_paid_plan_for_the_grace_period_then_falls_back_to_free(
    stripe_catalog, customer, user, time_machine, settings
):
    settings.BILLING_GRACE_DAYS = 7
    time_machine.move_to("2026-12-31T23:59:00Z", tick=False)
    sub = subscription(stripe_catalog, customer=customer, status="past_due")
    assert deliver(Client(), "invoice.payment_failed", invoice(
        stripe_catalog, customer=customer, subscription_id=sub["id"], status="open", paid=False
    ))[0].status_code == 200
    assert max_projects_for(user) == 50  # Pro

    time_machine.move_to("2027-01-07T23:58:00Z", tick=False)  # a minute before the end
    assert max_projects_for(user) == 50
    assert services.grace_periods_expire() == 0

    time_machine.move_to("2027-01-07T23:59:00Z", tick=False)
    assert max_projects_for(user) == 3  # Free, before any task ran
    assert services.grace_periods_expire() == 1
    assert plan_of(user) == ("free", "past_due")
    assert AuditLog.objects.filter(action="billing.grace_expired").count() == 1
    assert services.grace_periods_expire() == 0

    # A later redelivery of the old failure does not restart the grace period.
    assert deliver(Client(), "customer.subscription.updated", sub)[0].status_code == 200
    assert plan_of(user) == ("free", "past_due")

    # Paying restores the plan.
    stripe_catalog.update(sub["id"], status="active")
    assert deliver(Client(), "invoice.paid", invoice(stripe_catalog, customer=customer, subscription_id=sub["id"]))[0].status_code == 200
    assert plan_of(user) == ("pro", "active")
    assert profile_of(user).subscription_grace_until is None


def test_the_grace_task_runs_from_beat(settings):
    assert settings.CELERY_BEAT_SCHEDULE["billing-grace-periods"]["task"] == "billing.tasks.grace_periods_expire_task"


def test_two_users_keep_their_own_plans(stripe_catalog, user):
    other = UserFactory()
    mine, theirs = stripe_customer_for(stripe_catalog, user), stripe_customer_for(stripe_catalog, other)
    deliver(Client(), "customer.subscription.created", subscription(stripe_catalog, customer=mine))
    deliver(Client(), "customer.subscription.created", subscription(stripe_catalog, customer=theirs, price="price_enterprise_monthly"))
    assert plan_of(user) == ("pro", "active")
    assert plan_of(other) == ("enterprise", "active")
