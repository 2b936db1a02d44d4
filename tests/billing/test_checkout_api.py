"""POST /api/billing/checkout/ and /api/billing/portal/: anonymous, session, API key, bad input, Stripe down."""

import pytest
from djstripe.models import Customer
from rest_framework.test import APIClient

from accounts.models import Profile
from tests.billing.conftest import deliver, stripe_customer_for, subscription
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

CHECKOUT, PORTAL = "/api/billing/checkout/", "/api/billing/portal/"


@pytest.fixture
def session_client(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/pricing/")  # the CSRF cookie, as a browser has it
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


@pytest.mark.parametrize("url", [CHECKOUT, PORTAL])
def test_anonymous_callers_get_401_json(stripe_catalog, url):
    response = APIClient().post(url, {"price": "price_pro_monthly"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert not stripe_catalog.requests or all(r["path"] != "/v1/checkout/sessions" for r in stripe_catalog.requests)


def test_a_revoked_or_wrong_key_gets_401(stripe_catalog):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer aw_not_a_real_key")
    assert client.post(CHECKOUT, {"price": "price_pro_monthly"}, format="json").status_code == 401


def test_checkout_from_a_session_returns_a_stripe_url_and_creates_the_customer_once(stripe_catalog, session_client, user):
    first = session_client.post(CHECKOUT, {"price": "price_pro_monthly"}, format="json")
    assert first.status_code == 200, first.content
    assert first.json()["url"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    second = session_client.post(CHECKOUT, {"price": "price_enterprise_monthly"}, format="json")
    assert second.status_code == 200
    assert len(stripe_catalog.posts("/v1/customers")) == 1
    customer = Customer.objects.get(subscriber=user)
    assert Profile.objects.get(user=user).stripe_customer_id == customer.id
    created = stripe_catalog.posts("/v1/checkout/sessions")[0]
    assert created["mode"] == "subscription"
    assert created["customer"] == customer.id
    assert created["client_reference_id"] == str(user.pk)
    assert created["line_items"] == [{"price": "price_pro_monthly", "quantity": "1"}]
    assert created["success_url"].endswith("/account/billing/?checkout=success")
    assert created["cancel_url"].endswith("/pricing/?checkout=cancelled")


def test_checkout_with_an_api_key(stripe_catalog, key_client):
    response = key_client.post(CHECKOUT, {"price": "price_enterprise_monthly"}, format="json")
    assert response.status_code == 200
    assert response.json()["url"].startswith("https://checkout.stripe.com/")


def test_a_session_post_without_the_csrf_token_is_refused(stripe_catalog, user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(CHECKOUT, {"price": "price_pro_monthly"}, format="json").status_code == 403
    assert not stripe_catalog.posts("/v1/checkout/sessions")


@pytest.mark.parametrize("body", [{}, {"price": ""}, {"price": "price_unknown"}, {"price": ["a", "b"]}, {"price": "x" * 300}])
def test_a_bad_price_is_a_400_with_a_field_error(stripe_catalog, user_client, body):
    response = user_client.post(CHECKOUT, body, format="json")
    assert response.status_code == 400
    assert "price" in response.json()["error"]["fields"]
    assert not stripe_catalog.posts("/v1/checkout/sessions")


def test_a_price_without_a_tier_is_not_for_sale(stripe_catalog, user_client):
    stripe_catalog.update("prod_AgentwisePro", metadata={})
    from io import StringIO

    from django.core.management import call_command

    call_command("djstripe_sync_models", "Product", fail_on_error=True, stdout=StringIO(), stderr=StringIO())
    response = user_client.post(CHECKOUT, {"price": "price_pro_monthly"}, format="json")
    assert response.status_code == 400


def test_a_subscriber_is_sent_to_the_portal_instead(stripe_catalog, user, user_client):
    customer = stripe_customer_for(stripe_catalog, user)
    deliver(APIClient(), "customer.subscription.created", subscription(stripe_catalog, customer=customer))
    response = user_client.post(CHECKOUT, {"price": "price_enterprise_monthly"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_subscribed"
    portal = user_client.post(PORTAL)
    assert portal.status_code == 200
    assert portal.json()["url"].startswith("https://billing.stripe.com/p/session/")
    created = stripe_catalog.posts("/v1/billing_portal/sessions")[0]
    assert created["customer"] == customer
    assert created["return_url"].endswith("/account/billing/")


def test_the_portal_before_any_checkout_is_a_409(stripe_catalog, user_client):
    response = user_client.post(PORTAL)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_billing_account"


def test_each_user_gets_their_own_customer_and_portal(stripe_catalog, user):
    other = UserFactory()
    mine = stripe_customer_for(stripe_catalog, user)
    client = APIClient()
    client.force_authenticate(other)
    assert client.post(PORTAL).status_code == 409  # not the first user's customer
    stripe_customer_for(stripe_catalog, other)
    client.post(PORTAL)
    assert stripe_catalog.posts("/v1/billing_portal/sessions")[-1]["customer"] != mine


def test_staff_go_through_the_same_door(stripe_catalog):
    client = APIClient()
    client.force_authenticate(StaffFactory())
    assert client.post(CHECKOUT, {"price": "price_pro_monthly"}, format="json").status_code == 200


@pytest.mark.parametrize("url", [CHECKOUT, PORTAL])
def test_stripe_down_is_a_503_not_a_500(stripe_catalog, user, user_client, url):
    stripe_customer_for(stripe_catalog, user)
    stripe_catalog.fail_next("/v1/", status=500, times=10)
    response = user_client.post(url, {"price": "price_pro_monthly"}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "billing_unavailable"
    assert response["Retry-After"] == "60"


def test_without_stripe_keys_billing_says_it_is_not_set_up(stripe_catalog, user_client, settings):
    settings.STRIPE_TEST_SECRET_KEY = ""
    response = user_client.post(CHECKOUT, {"price": "price_pro_monthly"}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "billing_not_configured"


@pytest.mark.parametrize("key", ["sk_test_short", "sk_test_revokedrevokedrevoked0000000000"])
def test_a_stripe_key_that_is_malformed_or_refused_is_a_503_not_a_500(stripe_catalog, user_client, settings, key):
    settings.STRIPE_TEST_SECRET_KEY = key
    response = user_client.post(CHECKOUT, {"price": "price_pro_monthly"}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "billing_unavailable"


def test_get_is_not_allowed(user_client):
    assert user_client.get(CHECKOUT).status_code == 405
