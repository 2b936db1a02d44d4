"""Billing reads: the plans on sale with their limits and prices, and one user's billing overview."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from djstripe.models import Customer, Invoice, Price, Subscription

from .limits import effective_tier, plan_limits_for_tier
from .plans import (
    LIMIT_LABELS,
    LIMIT_NAMES,
    PLAN_HOLDING,
    TIER_RANK,
    SubscriptionStatus,
    SubscriptionTier,
    tier_for_price,
)


@dataclass
class PlanPrice:
    id: str
    amount: str  # "$19.00"
    interval: str  # "month", "year", or "" for one-off


@dataclass
class Plan:
    tier: str
    label: str
    limits: list[tuple[str, int | None]]
    prices: list[PlanPrice] = field(default_factory=list)


def _money(cents: int | None, currency: str) -> str:
    amount = (cents or 0) / 100
    symbol = {"usd": "$", "eur": "€", "gbp": "£"}.get((currency or "").lower())
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {(currency or '').upper()}"


def pricing_plans() -> list[Plan]:
    """Every tier, cheapest first, with its limits (the admin-edited plan limits) and the active Stripe
    prices that buy it (synced with ``djstripe_sync_models Product Price``). Two queries."""
    plans = {
        tier: Plan(
            tier=tier,
            label=SubscriptionTier(tier).label,
            limits=[(LIMIT_LABELS[name], plan_limits_for_tier(tier).get(name)) for name in LIMIT_NAMES],
        )
        for tier in sorted(TIER_RANK, key=TIER_RANK.__getitem__)
    }
    prices = Price.objects.filter(
        active=True, livemode=settings.STRIPE_LIVE_MODE, product__active=True
    ).select_related("product")
    for price in sorted(prices, key=lambda p: (p.unit_amount or 0, p.id)):
        tier = tier_for_price(price)
        if tier in plans:
            interval = (price.recurring or {}).get("interval", "")
            plans[tier].prices.append(PlanPrice(id=price.id, amount=_money(price.unit_amount, price.currency), interval=interval))
    return list(plans.values())


def customer_of(user) -> Customer | None:
    return Customer.objects.filter(subscriber=user, livemode=settings.STRIPE_LIVE_MODE).first()


def _epoch(value) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if isinstance(value, int | float) and value else None


@dataclass
class InvoiceRow:
    number: str
    date: datetime | None
    total: str
    status: str
    url: str
    pdf: str


@dataclass
class BillingOverview:
    tier: str
    tier_label: str
    status: str
    status_label: str
    grace_until: datetime | None
    next_invoice: datetime | None
    ends_at: datetime | None
    has_customer: bool
    invoices: list[InvoiceRow]


def billing_overview(user, *, invoice_limit: int = 24, with_history: bool = True) -> BillingOverview:
    """The user's plan as the limits see it, the subscription's next renewal (or its end, when cancelled at
    period end), and the newest invoices with Stripe's hosted page and PDF links. At most four queries;
    none beyond the profile with ``with_history=False`` (the pricing page needs only the plan)."""
    profile = user.profile
    customer = customer_of(user) if with_history else None
    next_invoice = ends_at = None
    invoices: list[InvoiceRow] = []
    if customer is not None:
        subscription = (
            Subscription.objects.filter(customer=customer, stripe_data__status__in=PLAN_HOLDING)
            .order_by("-created")
            .first()
        )
        if subscription is not None:
            data = subscription.stripe_data
            items = (data.get("items") or {}).get("data") or [{}]
            period_end = _epoch(items[0].get("current_period_end") or data.get("current_period_end"))
            if data.get("cancel_at_period_end") or data.get("cancel_at"):
                ends_at = _epoch(data.get("cancel_at")) or period_end
            else:
                next_invoice = period_end
        for invoice in Invoice.objects.filter(customer=customer).order_by("-created")[:invoice_limit]:
            data = invoice.stripe_data
            invoices.append(
                InvoiceRow(
                    number=data.get("number") or invoice.id,
                    date=invoice.created,
                    total=_money(data.get("total"), data.get("currency", "usd")),
                    status=str(data.get("status") or ""),
                    url=data.get("hosted_invoice_url") or "",
                    pdf=data.get("invoice_pdf") or "",
                )
            )
    tier = effective_tier(profile)
    status = profile.subscription_status
    return BillingOverview(
        tier=tier,
        tier_label=SubscriptionTier(tier).label,
        status=status,
        status_label=SubscriptionStatus(status).label if status in SubscriptionStatus.values else status,
        grace_until=profile.subscription_grace_until if status == SubscriptionStatus.PAST_DUE else None,
        next_invoice=next_invoice,
        ends_at=ends_at,
        has_customer=customer is not None,
        invoices=invoices,
    )
