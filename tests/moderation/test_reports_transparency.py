"""manage.py moderation_report: the transparency report, as text and JSON."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from moderation import reports
from moderation.models import DecisionKind, ModerationDecision, ModerationItem, ProfanityPattern
from tests.moderation import reports_support
from tests.moderation.reports_support import message_by

place, crowd = reports_support.place, reports_support.crowd  # fixtures

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False)]


def run(*args) -> str:
    out = StringIO()
    call_command("moderation_report", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def history(crowd, place, time_machine):
    """Three reported messages resolved after 1, 2 and 10 hours; a rule's block; one report still open; one before the period."""
    rule = ProfanityPattern.objects.create(pattern="scam", category="fraud", action="block")
    ModerationDecision.objects.create(kind=DecisionKind.BLOCK, rule=rule, target_user=crowd["author"])
    for hours, outcome in ((1, "remove"), (2, "approve"), (10, "remove")):
        message = message_by(crowd["author"], place["chat"], f"after {hours}")
        reports.report_create(actor=crowd["alice"], content_type="message", content_id=message.pk, reason="spam")
        reports.report_create(actor=crowd["bob"], content_type="message", content_id=message.pk, reason="rude")
        time_machine.shift(timedelta(hours=hours))
        reports.item_resolve(actor=crowd["staff"], content_type="message", content_id=message.pk, outcome=outcome)
        time_machine.shift(-timedelta(hours=hours))
    open_one = message_by(crowd["author"], place["chat"], "open")
    reports.report_create(actor=crowd["alice"], content_type="message", content_id=open_one.pk, reason="spam")
    ModerationItem.objects.create(content_type="message", content_id="old", reason="old", created_at=datetime(2026, 1, 5, tzinfo=UTC))


def test_the_text_report(history):
    text = run("--since", "2026-03-01", "--until", "2026-03-02")
    assert "Moderation transparency report, 2026-03-01 to 2026-03-02 (UTC)" in text
    assert "Decisions: 4" in text
    lines = [line.split() for line in text.splitlines()]
    assert ["remove", "2"] in lines and ["approve", "1"] in lines and ["block", "1"] in lines
    assert ["fraud", "1"] in lines and ["(no", "rule)", "3"] in lines
    assert "Reports received: 7" in text and "Reports resolved: 6" in text
    assert ["removed", "4"] in lines and ["approved", "2"] in lines
    assert "Time to resolve (3 decisions on reports): median 2.00 h, p90 10.00 h" in text


def test_the_json_report(history):
    report = json.loads(run("--since", "2026-03-01", "--json"))
    assert report["decisions"]["by_kind"] == {"approve": 1, "block": 1, "remove": 2}
    assert report["decisions"]["by_outcome"]["content removed"] == 2
    assert report["decisions"]["by_outcome"]["refused by rules"] == 1
    assert report["reports"] == {"received": 7, "resolved": 6, "resolved_by_status": {"approved": 2, "removed": 4},
                                 "by_content_type": {"message": 7}}
    assert report["time_to_resolve_hours"] == {"decisions": 3, "median": 2.0, "p90": 10.0}


def test_a_period_without_activity(history):
    text = run("--since", "2025-01-01", "--until", "2025-01-31")
    assert "Decisions: 0" in text and "(none)" in text and "median n/a" in text


def test_bad_dates_are_refused():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run("--since", "March")
    with pytest.raises(CommandError, match="before"):
        run("--since", "2026-03-02", "--until", "2026-03-01")
    with pytest.raises(CommandError, match="out of range"):
        run("--since", "2026-03-01", "--until", "9999-12-31")  # the day after would not be a date
