"""Bot detection (docs/bot-detection.md): request signals counted in sliding windows per client address
and per user, a confidence score from weighted signals, and blocks kept in the cache.

The hot path (``block_for``) is one cache read per request and no database query; ``observe`` is one
Redis round trip per request (a pipeline) or a few local-memory reads without Redis. Blocks, lifts
and the allow list are written only here.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from agentwise.access import require
from agentwise.errors import Refusal

from .audit import audit_record
from .models import AllowListEntry, BotDetection

logger = logging.getLogger(__name__)

# --- Signals ---------------------------------------------------------------------------------------

# Each signal's weight: how sure we are it is a bot when that signal is at full strength. Signals
# combine like independent evidence, score = 1 - prod(1 - weight * strength), so weak signals add up
# but none reaches 1 on its own, and a human who trips one (a typo 404, curl) stays well below.
WEIGHTS: dict[str, float] = {
    "rate": 1.0,  # requests in the window (not signed-in API calls), from half of MODERATION_BOT_MAX_REQUESTS (0) to all (1)
    "error_share": 0.5,  # share of 4xx/5xx answers, from 50% (0) to 90% (1), once there are enough requests
    "not_found_burst": 0.5,  # 404s in the window, up to MODERATION_BOT_NOT_FOUND_BURST
    "scanner_paths": 0.7,  # requests for /wp-login.php, /.env, /.git/...: 5 or more is full strength
    "odd_agent": 0.35,  # share of requests with no user agent or a generic client (curl, python-requests)
    "scanner_agent": 0.7,  # attack tools naming themselves (sqlmap, nikto, nuclei...): 3 or more is full
    "failed_sign_ins": 0.9,  # failed sign-ins from the address, up to MODERATION_BOT_FAILED_SIGN_INS
    "honeypot": 0.75,  # a filled hidden form field: 2 or more is full strength
}

SCANNER_PATH = re.compile(
    r"""^/(?:
        wp-[a-z-]*(?:/|\.php|$) | wordpress/ | xmlrpc\.php | \.env | \.git(?:/|$) | \.svn/ | \.hg/ | \.ds_store
        | \.aws/ | \.ssh/ | \.htaccess | \.htpasswd | phpmyadmin | pma/ | myadmin/ | adminer | cgi-bin/
        | server-status | vendor/phpunit | actuator/ | boaform/ | hnap1 | solr/ | console/ | owa/
        | .*\.(?:php\d?|aspx?|jsp|cgi|asp|env|bak|sql)$
    )""",
    re.IGNORECASE | re.VERBOSE,
)
SCANNER_AGENT = re.compile(
    r"sqlmap|nikto|nmap|masscan|zgrab|nuclei|gobuster|dirbuster|dirb/|wpscan|acunetix|nessus|openvas|ffuf|"
    r"wfuzz|jaeles|(?<!python-)httpx|scanner|scan\b",  # httpx: the recon tool, not the Python library
    re.IGNORECASE,
)
GENERIC_AGENT = re.compile(
    r"^(?:curl|wget|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|libwww-perl|java/|"
    r"okhttp|axios|node-fetch|undici|ruby|php|perl|httpie|postmanruntime|apache-httpclient|-|mozilla/4\.0$)",
    re.IGNORECASE,
)

HONEYPOT_FIELD = "website"  # the hidden field's name on the sign-up and subscribe forms
HONEYPOT_MESSAGE = "We could not accept this submission."
EXEMPT_PATHS = ("/healthz/", "/readyz/", "/stripe/webhook/")  # the webhook answers for itself (signatures)

_REQUEST_SIGNALS = "_bot_signals"  # extra counts (failed sign-ins, honeypots) noted during a request


def request_signals(*, path: str, status: int, user_agent: str, authenticated: bool = False) -> dict[str, int]:
    """The counts one request adds to its windows. A signed-in caller (session or API key) answers for
    its errors and its client's name: an API client's 400s and 404s, or a script's python-requests
    agent, are normal use, and so is an API client's pace: the API's per-user throttles (429) bound it.
    A signed-in session's page rate, and scanners' traces (paths, tools), still count."""
    counts = {"requests": 1}
    if authenticated and path.startswith("/api/"):
        counts["throttled"] = 1  # the API's per-user throttle paces it: not our rate signal's business
    if status >= 400 and not authenticated:
        counts["errors"] = 1
    if status == 404 and not authenticated:
        counts["not_found"] = 1
    if SCANNER_PATH.match(path):
        counts["scanner_paths"] = 1
    agent = user_agent.strip()
    if not authenticated and (not agent or GENERIC_AGENT.match(agent) or SCANNER_AGENT.search(agent)):
        counts["odd_agent"] = 1
    if agent and SCANNER_AGENT.search(agent):
        counts["scanner_agent"] = 1
    return counts


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def signal_strengths(counts: dict[str, float]) -> dict[str, float]:
    """Each signal's strength (0..1) from one window's counts."""
    n = counts.get("requests", 0)
    paced = n - counts.get("throttled", 0)  # signed-in API traffic has the API's per-user throttles
    limit = settings.MODERATION_BOT_MAX_REQUESTS
    share = (lambda key: counts.get(key, 0) / n) if n else (lambda key: 0.0)
    enough = n >= settings.MODERATION_BOT_MIN_REQUESTS
    return {
        "rate": _clamp((paced - limit / 2) / (limit / 2)),
        "error_share": _clamp((share("errors") - 0.5) / 0.4) if enough else 0.0,
        "not_found_burst": _clamp(counts.get("not_found", 0) / settings.MODERATION_BOT_NOT_FOUND_BURST),
        "scanner_paths": _clamp(counts.get("scanner_paths", 0) / 5),
        "odd_agent": _clamp(share("odd_agent")),
        "scanner_agent": _clamp(counts.get("scanner_agent", 0) / 3),
        "failed_sign_ins": _clamp(counts.get("failed_sign_ins", 0) / settings.MODERATION_BOT_FAILED_SIGN_INS),
        "honeypot": _clamp(counts.get("honeypot", 0) / 2),
    }


def confidence(strengths: dict[str, float]) -> float:
    """The bot confidence score, 0..1."""
    remaining = 1.0
    for name, strength in strengths.items():
        remaining *= 1 - WEIGHTS[name] * strength
    return round(1 - remaining, 4)


# --- Sliding windows -------------------------------------------------------------------------------


def _window() -> int:
    return settings.MODERATION_BOT_WINDOW_SECONDS


def _bucket_key(subject: str, bucket: int) -> str:
    return f"bots:w:{subject}:{bucket}"


def _redis():
    """The raw Redis client behind the Django cache, or None (local memory)."""
    if not settings.REDIS_URL or not hasattr(cache, "delete_pattern"):
        return None
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def _decode(raw: dict) -> dict[str, int]:
    return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}


def windows_hit(subjects: list[str], counts: dict[str, int]) -> list[dict[str, float]]:
    """Adds ``counts`` to each subject's current bucket and returns each subject's sliding-window
    estimate: the current bucket plus the previous one weighted by how much of it is still inside the
    window. With Redis, every process counts in the same hashes, in one pipelined round trip."""
    window = _window()
    now = time.time()
    bucket = int(now // window)
    overlap = 1 - (now % window) / window
    client = _redis()
    results: list[tuple[dict, dict]] = []
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for subject in subjects:
            current = cache.make_key(_bucket_key(subject, bucket))
            for name, amount in counts.items():
                pipe.hincrby(current, name, amount)
            pipe.expire(current, window * 2 + 5)
            pipe.hgetall(current)
            pipe.hgetall(cache.make_key(_bucket_key(subject, bucket - 1)))
        replies = pipe.execute()
        per_subject = len(counts) + 3
        for i in range(len(subjects)):
            chunk = replies[i * per_subject : (i + 1) * per_subject]
            results.append((_decode(chunk[-2]), _decode(chunk[-1])))
    else:
        # One process: read-modify-write on the local cache is close enough (a lost count at worst).
        for subject in subjects:
            key = _bucket_key(subject, bucket)
            current = cache.get(key) or {}
            for name, amount in counts.items():
                current[name] = current.get(name, 0) + amount
            cache.set(key, current, window * 2 + 5)
            results.append((current, cache.get(_bucket_key(subject, bucket - 1)) or {}))
    return [
        {name: current.get(name, 0) + previous.get(name, 0) * overlap for name in set(current) | set(previous)}
        for current, previous in results
    ]


def windows_forget(subject: str) -> None:
    """Drops a subject's counts (a lifted block starts from a clean window)."""
    bucket = int(time.time() // _window())
    cache.delete_many([_bucket_key(subject, b) for b in (bucket, bucket - 1)])


# --- Allow list ------------------------------------------------------------------------------------

_ALLOW_KEY = "bots:allow-list"


@dataclass(frozen=True)
class AllowList:
    networks: tuple
    user_ids: frozenset

    def allows(self, *, address: str | None = None, user=None) -> bool:
        if user is not None and getattr(user, "is_authenticated", False):
            if user.is_staff or user.pk in self.user_ids:
                return True
        if address:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return False
            return any(ip.version == net.version and ip in net for net in self.networks)
        return False


def parse_network(value: str):
    """An address or CIDR range as an ``ip_network`` (host bits allowed: 10.1.2.3/8 is 10.0.0.0/8)."""
    return ipaddress.ip_network(value.strip(), strict=False)


def allow_list() -> AllowList:
    """The allow list, cached until an entry changes (``allow_list_changed``)."""
    data = cache.get(_ALLOW_KEY)
    if data is None:
        entries = list(AllowListEntry.objects.values_list("network", "user_id"))
        data = {"networks": [n for n, _ in entries if n], "user_ids": [u for _, u in entries if u is not None]}
        cache.set(_ALLOW_KEY, data, None)
    networks = []
    for value in data["networks"]:
        try:
            networks.append(parse_network(value))
        except ValueError:
            continue  # a row written around the admin's validation: ignored, never a 500
    return AllowList(networks=tuple(networks), user_ids=frozenset(data["user_ids"]))


def allow_list_changed() -> None:
    cache.delete(_ALLOW_KEY)


# --- Blocks ----------------------------------------------------------------------------------------


def _block_key(address: str) -> str:
    return f"bots:block:{address}"


def block_for(address: str | None) -> dict | None:
    """The live block on ``address`` (``{"until": epoch seconds, "id": detection id}``), or None. One
    cache read; the stored expiry is checked too, so a block ends on time whatever the cache's clock."""
    if not address:
        return None
    block = cache.get(_block_key(address))
    if block and block["until"] > time.time():
        return block
    return None


def retry_after(block: dict) -> int:
    return max(1, math.ceil(block["until"] - time.time()))


def note(request, signal: str, amount: int = 1) -> None:
    """Counts ``signal`` (``failed_sign_ins``, ``honeypot``) for this request; the middleware adds it to
    the windows with the request's own counts, in the same round trip."""
    if request is None:
        return
    pending = getattr(request, _REQUEST_SIGNALS, None)
    if pending is None:
        pending = {}
        try:
            setattr(request, _REQUEST_SIGNALS, pending)
        except AttributeError:
            return
    pending[signal] = pending.get(signal, 0) + amount


def pending_signals(request) -> dict[str, int]:
    return dict(getattr(request, _REQUEST_SIGNALS, None) or {})


def honeypot_check(request, value) -> None:
    """Refuses a form submission whose hidden field was filled (humans never see it): a generic 400,
    and a heavy signal against the address."""
    if value:
        note(request, "honeypot")
        raise Refusal(HONEYPOT_MESSAGE, status_code=400, code="invalid")


def observe(*, address: str | None, user=None, counts: dict[str, int], user_agent: str = "", path: str = "") -> BotDetection | None:
    """Adds one request's counts to the address's and the user's windows; blocks the address when
    either window scores above ``MODERATION_BOT_THRESHOLD``. Returns the new detection, if any."""
    if not address:
        return None
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    if signed_in and user.is_staff:
        return None
    subjects = [f"ip:{address}"]
    if signed_in:
        # Failed sign-ins and honeypots belong to the address; the user's window counts their traffic.
        subjects.append(f"user:{user.pk}")
    estimates = windows_hit(subjects, counts)
    best_strengths, best_score, best_subject = {}, 0.0, subjects[0]
    for subject, estimate in zip(subjects, estimates, strict=True):
        strengths = signal_strengths(estimate)
        score = confidence(strengths)
        if score > best_score:
            best_strengths, best_score, best_subject = strengths, score, subject
    if best_score <= settings.MODERATION_BOT_THRESHOLD:
        return None
    if allow_list().allows(address=address, user=user if signed_in else None):
        return None
    pattern = {
        "subject": best_subject,
        "window_seconds": _window(),
        "signals": {name: round(s, 3) for name, s in best_strengths.items() if s},
        "weights": {name: WEIGHTS[name] for name, s in best_strengths.items() if s},
        "counts": {name: round(v, 1) for name, v in estimates[subjects.index(best_subject)].items()},
        "last_path": path[:200],
    }
    return bot_block(
        address=address, score=best_score, pattern=pattern, user=user if signed_in else None, user_agent=user_agent
    )


def bot_block(*, address: str, score: float, pattern: dict, user=None, user_agent: str = "") -> BotDetection | None:
    """Blocks ``address`` for ``MODERATION_BOT_BLOCK_MINUTES`` and records one detection. Processes
    racing on the same address write one row: the cache's atomic ``add`` picks the writer."""
    minutes = settings.MODERATION_BOT_BLOCK_MINUTES
    detection_id = uuid.uuid4()
    until = time.time() + minutes * 60
    if not cache.add(_block_key(address), {"until": until, "id": str(detection_id)}, minutes * 60):
        return None
    logger.warning("bot detection: blocked %s for %d min (score %.2f, %s)", address, minutes, score,
                   ", ".join(sorted(pattern.get("signals", {}))))
    return BotDetection.objects.create(
        id=detection_id,
        ip_address=address,
        user=user,
        user_agent=user_agent[:1000],
        request_pattern=pattern,
        confidence_score=score,
        is_blocked=True,
        blocked_until=datetime.fromtimestamp(until, tz=UTC),
    )


@transaction.atomic
def bot_block_lift(*, actor, detection: BotDetection, request=None) -> BotDetection:
    """Lifts a block now: the address is served again at once (its cache key and windows are cleared),
    and the detection records who lifted it and when."""
    require(actor, "moderation.lift_botdetection", detection)
    detection = BotDetection.objects.select_for_update().get(pk=detection.pk)
    if detection.lifted_at is not None:
        return detection
    detection.is_blocked = False
    detection.lifted_by = actor
    detection.lifted_at = timezone.now()
    detection.save(update_fields=["is_blocked", "lifted_by", "lifted_at"])
    address = detection.ip_address

    def clear():
        block = cache.get(_block_key(address))
        if block is None or block.get("id") == str(detection.pk) or not _other_active(address, detection.pk):
            cache.delete(_block_key(address))
        windows_forget(f"ip:{address}")

    transaction.on_commit(clear)
    audit_record(
        "bot.lift",
        actor=actor,
        resource=detection,
        resource_type="bot_detection",
        resource_id=str(detection.pk),
        request=request,
        metadata={"ip_address": address, "confidence_score": detection.confidence_score},
    )
    return detection


def _other_active(address: str, detection_id) -> bool:
    return (
        BotDetection.objects.filter(ip_address=address, is_blocked=True, blocked_until__gt=timezone.now())
        .exclude(pk=detection_id)
        .exists()
    )


def detection_is_active(detection: BotDetection, *, now: datetime | None = None) -> bool:
    return bool(
        detection.is_blocked
        and detection.lifted_at is None
        and detection.blocked_until
        and detection.blocked_until > (now or timezone.now())
    )


@transaction.atomic
def allow_list_entry_save(*, actor, entry: AllowListEntry, request=None) -> AllowListEntry:
    """Adds or changes an allow-list entry (the network normalised); the cached list is dropped after commit."""
    require(actor, "moderation.change_allowlistentry", entry)
    adding = entry._state.adding
    if entry.network:
        entry.network = str(parse_network(entry.network))
    entry.full_clean()
    entry.save()
    transaction.on_commit(allow_list_changed)
    audit_record(
        "bot.allow_list.add" if adding else "bot.allow_list.change",
        actor=actor,
        resource=entry,
        resource_type="allow_list_entry",
        resource_id=str(entry.pk),
        request=request,
        metadata={"network": entry.network, "user_id": entry.user_id, "note": entry.note},
    )
    return entry


@transaction.atomic
def allow_list_entry_delete(*, actor, entry: AllowListEntry, request=None) -> None:
    require(actor, "moderation.change_allowlistentry", entry)
    metadata = {"network": entry.network, "user_id": entry.user_id, "note": entry.note}
    entry_id = str(entry.pk)
    entry.delete()
    transaction.on_commit(allow_list_changed)
    audit_record(
        "bot.allow_list.remove", actor=actor, resource_type="allow_list_entry", resource_id=entry_id,
        request=request, metadata=metadata,
    )
