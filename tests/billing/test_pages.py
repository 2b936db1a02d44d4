"""/pricing/ and /account/billing/ as a browser meets them."""

import pytest
from django.test import Client
from djstripe.models import Invoice

from billing.models import PlanLimit
from tests.billing.conftest import deliver, invoice, stripe_customer_for, subscription

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pricing_lists_every_tier_with_its_limits_and_prices_for_anyone(stripe_catalog):
    PlanLimit.objects.filter(tier="pro").update(max_active_projects=55)
    response = Client().get("/pricing/")
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("Free", "Pro", "Enterprise", "$19.00", "$99.00", "55 active projects", "Unlimited active projects"):
        assert text in page, text
    assert "Sign up to upgrade" in page
    assert 'action="/account/billing/checkout/"' not in page


def test_pricing_without_synced_prices_still_shows_the_plans(db):
    page = Client().get("/pricing/").content.decode()
    assert "Price not published yet." in page and "3 active projects" in page


def test_pricing_signed_in_offers_upgrade_buttons_that_go_to_stripe_checkout(stripe_catalog, user):
    client = signed_in(user)
    page = client.get("/pricing/").content.decode()
    assert 'action="/account/billing/checkout/"' in page
    assert 'value="price_pro_monthly"' in page and 'value="price_enterprise_monthly"' in page
    response = client.post("/account/billing/checkout/", {"price": "price_pro_monthly"})
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/")


def test_the_checkout_form_needs_csrf_and_a_known_price(stripe_catalog, user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/account/billing/checkout/", {"price": "price_pro_monthly"}).status_code == 403
    response = signed_in(user).post("/account/billing/checkout/", {"price": "price_nope"})
    assert response.status_code == 400
    assert "Unknown price" in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(stripe_catalog):
    for url in ("/account/billing/",):
        response = Client().get(url)
        assert response.status_code == 302 and "/account/login/" in response["Location"]
    for url in ("/account/billing/checkout/", "/account/billing/portal/"):
        response = Client().post(url, {"price": "price_pro_monthly"})
        assert response.status_code == 302 and "/account/login/" in response["Location"]
    assert not stripe_catalog.posts("/v1/checkout/sessions")


def test_account_billing_shows_plan_status_next_invoice_and_invoices(stripe_catalog, user, time_machine):
    time_machine.move_to("2026-12-01T00:00:00Z", tick=False)
    customer = stripe_customer_for(stripe_catalog, user)
    sub = subscription(stripe_catalog, customer=customer)
    sub["items"]["data"][0]["current_period_end"] = 1_798_761_600  # 2027-01-01
    stripe_catalog.add(sub)
    paid = invoice(stripe_catalog, customer=customer, subscription_id=sub["id"], number="AW-7777", total=1900)
    assert deliver(Client(), "invoice.paid", paid)[0].status_code == 200
    assert Invoice.objects.filter(id=paid["id"]).exists()
    page = signed_in(user).get("/account/billing/").content.decode()
    assert "Pro" in page and "Active" in page
    assert "1 January 2027" in page
    assert "AW-7777" in page and "$19.00" in page
    assert paid["hosted_invoice_url"] in page and paid["invoice_pdf"] in page
    assert 'action="/account/billing/portal/"' in page
    response = signed_in(user).post("/account/billing/portal/")
    assert response.status_code == 303 and response["Location"].startswith("https://billing.stripe.com/")


def test_account_billing_shows_the_grace_period_when_a_payment_failed(stripe_catalog, user, time_machine):
    time_machine.move_to("2026-12-01T12:00:00Z", tick=False)
    customer = stripe_customer_for(stripe_catalog, user)
    deliver(Client(), "customer.subscription.updated", subscription(stripe_catalog, customer=customer, status="past_due"))
    page = signed_in(user).get("/account/billing/").content.decode()
    assert "Past due" in page and "8 December 2026" in page


def test_account_billing_shows_only_your_own_invoices(stripe_catalog, user, other_user):
    mine = stripe_customer_for(stripe_catalog, user)
    theirs = stripe_customer_for(stripe_catalog, other_user)
    for customer, number in ((mine, "AW-MINE"), (theirs, "AW-THEIRS")):
        sub = subscription(stripe_catalog, customer=customer)
        deliver(Client(), "invoice.paid", invoice(stripe_catalog, customer=customer, subscription_id=sub["id"], number=number))
    page = signed_in(user).get("/account/billing/").content.decode()
    assert "AW-MINE" in page and "AW-THEIRS" not in page


def test_a_free_user_without_a_customer_has_no_portal_button(user):
    page = signed_in(user).get("/account/billing/").content.decode()
    assert "Free" in page and "No invoices yet." in page
    assert 'action="/account/billing/portal/"' not in page
    response = signed_in(user).post("/account/billing/portal/")
    assert response.status_code == 409
    assert "Choose a plan on the pricing page first" in response.content.decode()


def test_the_account_billing_page_query_count_does_not_grow_with_invoices(
    stripe_catalog, user, django_assert_max_num_queries
):
    customer = stripe_customer_for(stripe_catalog, user)
    sub = subscription(stripe_catalog, customer=customer)
    for _ in range(5):
        deliver(Client(), "invoice.paid", invoice(stripe_catalog, customer=customer, subscription_id=sub["id"]))
    client = signed_in(user)
    client.get("/account/billing/")
    with django_assert_max_num_queries(14):
        assert client.get("/account/billing/").status_code == 200
