"""The client's network address, as the trusted-proxy setting defines it."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def forwarded_client(forwarded_for: str, trusted_proxies: int) -> str:
    """The address our nearest-to-the-client proxy saw: the ``trusted_proxies``-th X-Forwarded-For entry
    from the right. Every entry left of it was written by the client and can say anything.

    With fewer entries than proxies (a request that skipped some), the left-most, as DRF's throttles do.
    """
    entries = forwarded_for.split(",")
    return entries[-min(trusted_proxies, len(entries))].strip()


def client_ip(request_or_scope) -> str | None:
    """The client IP address of a Django/DRF request or an ASGI scope, from ``TRUSTED_PROXY_COUNT``.

    With no trusted proxy (the default) it is the connection's peer and X-Forwarded-For is ignored.
    daphne (agentwise.daphne), allauth's limits and DRF's throttles resolve it the same way. None when
    that is not an IP address (a port is dropped), so it fits a GenericIPAddressField.
    """
    if isinstance(request_or_scope, dict):
        headers = request_or_scope.get("headers") or ()
        forwarded = b",".join(value for name, value in headers if name.lower() == b"x-forwarded-for").decode("latin-1")
        peer = (request_or_scope.get("client") or (None,))[0]
    else:
        forwarded = request_or_scope.META.get("HTTP_X_FORWARDED_FOR", "")
        peer = request_or_scope.META.get("REMOTE_ADDR")
    trusted = settings.TRUSTED_PROXY_COUNT
    address = forwarded_client(forwarded, trusted) if trusted and forwarded else peer
    return _ip(address or "")


def _ip(value: str) -> str | None:
    if value.startswith("["):  # [2001:db8::1]:443
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # 203.0.113.7:443
        value = value.partition(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
