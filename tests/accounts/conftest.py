"""Account deletion cancels subscriptions: the fake Stripe server's fixtures (tests/billing/conftest.py)."""

from tests.billing.conftest import _fake_stripe_server, fake_stripe, stripe_catalog  # noqa: F401
