"""Signed links in newsletter emails. They need no sign-in, so the signature is the whole authorisation.

- confirm: proves the address receives mail (double opt-in, or an address change); expires.
- manage: unsubscribe and preferences; never expires, as an unsubscribe link must work years later.
  It names the campaign it was sent with, so an unsubscribe is counted against that issue.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

from agentwise.errors import NotFound

CONFIRM_SALT = "newsletter.confirm"
MANAGE_SALT = "newsletter.manage"
CONFIRM_MAX_AGE_SECONDS = 7 * 24 * 60 * 60


@dataclass(frozen=True)
class ConfirmClaim:
    subscriber_id: int
    email: str


@dataclass(frozen=True)
class ManageClaim:
    subscriber_id: int
    campaign_id: int | None


def confirm_token(*, subscriber_id: int, email: str) -> str:
    return signing.dumps({"s": subscriber_id, "e": email}, salt=CONFIRM_SALT, compress=True)


def manage_token(*, subscriber_id: int, campaign_id: int | None = None) -> str:
    payload = {"s": subscriber_id} if campaign_id is None else {"s": subscriber_id, "c": campaign_id}
    return signing.dumps(payload, salt=MANAGE_SALT)


def read_confirm_token(token: str) -> ConfirmClaim:
    """Raises NotFound for a tampered, expired or malformed token (a page, not an error trace)."""
    try:
        payload = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE_SECONDS)
        return ConfirmClaim(subscriber_id=int(payload["s"]), email=str(payload["e"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError) as error:
        raise NotFound("This confirmation link is invalid or has expired.") from error


def read_manage_token(token: str) -> ManageClaim:
    try:
        payload = signing.loads(token, salt=MANAGE_SALT)
        campaign = payload.get("c")
        return ManageClaim(
            subscriber_id=int(payload["s"]), campaign_id=int(campaign) if campaign is not None else None
        )
    except (signing.BadSignature, AttributeError, KeyError, TypeError, ValueError) as error:
        raise NotFound("This link is invalid.") from error
