"""Billing tests talk to a fake Stripe API on 127.0.0.1 (tests/billing/fake_stripe.py), never to Stripe."""

import copy
import itertools
import json

import pytest

from tests.billing.fake_stripe import FakeStripe, event_payload, recorded, sign

WEBHOOK_SECRET = "whsec_agentwise_test_0123456789abcdef"
STRIPE_TEST_KEY = "sk_test_agentwisefake0000000000000000"
CATALOG = ("product_pro", "price_pro_monthly", "product_enterprise", "price_enterprise_monthly")

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def _fake_stripe_server():
    fake = FakeStripe()
    yield fake
    fake.close()


@pytest.fixture
def fake_stripe(_fake_stripe_server, settings):
    """Stripe, as far as dj-stripe and our code can tell: the catalog (Pro and Enterprise with their monthly
    prices) is on the fake; ``stripe_catalog`` also syncs it into the database."""
    fake = _fake_stripe_server
    fake.reset()
    fake.api_key = STRIPE_TEST_KEY
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_TEST_SECRET_KEY = STRIPE_TEST_KEY
    settings.STRIPE_LIVE_MODE = False
    settings.DJSTRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    for name in CATALOG:
        fake.add(recorded(name))
    yield fake
    fake.reset()


@pytest.fixture
def stripe_catalog(fake_stripe, db):
    """Products and prices synced the way ops do it: ``manage.py djstripe_sync_models Product Price``."""
    from io import StringIO

    from django.core.management import call_command

    call_command("djstripe_sync_models", "Product", "Price", fail_on_error=True, stdout=StringIO(), stderr=StringIO())
    return fake_stripe


def stripe_customer_for(fake, user) -> str:
    """A Stripe customer made for ``user`` through our own door (billing.services.customer_for)."""
    from billing import services

    return services.customer_for(user).id


def subscription(fake, *, customer: str, status: str = "active", price: str = "price_pro_monthly", sub_id=None, **changes):
    """Puts a subscription on the fake (Stripe's current state) and returns it."""
    obj = recorded("subscription")
    obj["id"] = sub_id or f"sub_test_{next(_numbers)}"
    obj["customer"] = customer
    obj["status"] = status
    item = obj["items"]["data"][0]
    item["id"] = f"si_test_{next(_numbers)}"
    item["subscription"] = obj["id"]
    item["price"] = fake.get(price)
    obj["items"]["url"] = f"/v1/subscription_items?subscription={obj['id']}"
    obj.update(copy.deepcopy(changes))
    return fake.add(obj)


def invoice(fake, *, customer: str, subscription_id: str, status: str = "paid", number: str | None = None, **changes):
    obj = recorded("invoice")
    serial = next(_numbers)
    obj.update(
        id=f"in_test_{serial}",
        customer=customer,
        status=status,
        paid=status == "paid",
        number=number or f"AW-{serial:04d}",
        hosted_invoice_url=f"https://invoice.stripe.com/i/acct_test/test_{serial}",
        invoice_pdf=f"https://pay.stripe.com/invoice/acct_test/test_{serial}/pdf",
    )
    obj["parent"]["subscription_details"]["subscription"] = subscription_id
    obj.update(copy.deepcopy(changes))
    return fake.add(obj)


def deliver(client, event_type: str, obj: dict, *, secret: str = WEBHOOK_SECRET, event: dict | None = None, **headers):
    """Signs the event as Stripe would and POSTs it to the real endpoint; returns (response, event)."""
    event = event or event_payload(event_type, obj)
    body = json.dumps(event).encode()
    headers.setdefault("HTTP_STRIPE_SIGNATURE", sign(body, secret))
    response = client.post("/stripe/webhook/", data=body, content_type="application/json", **headers)
    return response, event
