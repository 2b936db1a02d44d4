"""``manage.py moderation_report --since YYYY-MM-DD [--until YYYY-MM-DD] [--json]``: the transparency report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from moderation.selectors import transparency_report


def _day(value: str) -> datetime:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise CommandError(f"{value!r} is not a date as YYYY-MM-DD.") from None
    if not 2000 <= day.year <= 9000:  # the day after the last one must still be a date
        raise CommandError(f"{value!r} is out of range (years 2000 to 9000).")
    return datetime.combine(day, time.min, tzinfo=UTC)


class Command(BaseCommand):
    help = "Prints the moderation transparency report: decisions by kind, rule and outcome; reports; time to resolve."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="First day included (YYYY-MM-DD, UTC).")
        parser.add_argument("--until", help="Last day included (YYYY-MM-DD, UTC); default: today.")
        parser.add_argument("--json", action="store_true", help="Print JSON instead of text.")

    def handle(self, *args, **options):
        since = _day(options["since"])
        until = _day(options["until"]) if options["until"] else datetime.combine(timezone.now().date(), time.min, tzinfo=UTC)
        until += timedelta(days=1)  # the last day is included
        if until <= since:
            raise CommandError("--until must not be before --since.")
        report = transparency_report(since=since, until=until)
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(self._text(report, since, until - timedelta(days=1)))

    @staticmethod
    def _text(report: dict, since: datetime, last: datetime) -> str:
        def section(title: str, counts: dict) -> list[str]:
            lines = [title]
            lines += [f"  {name:<28} {count:>6}" for name, count in counts.items()] or ["  (none)"]
            return lines

        decisions, reports, ttr = report["decisions"], report["reports"], report["time_to_resolve_hours"]

        def hours(value):
            return "n/a" if value is None else f"{value:.2f} h"

        lines = [
            f"Moderation transparency report, {since:%Y-%m-%d} to {last:%Y-%m-%d} (UTC)",
            "",
            f"Decisions: {decisions['total']}",
            *section("By kind:", decisions["by_kind"]),
            *section("By rule:", decisions["by_rule"]),
            *section("By outcome:", decisions["by_outcome"]),
            "",
            f"Reports received: {reports['received']}",
            f"Reports resolved: {reports['resolved']}",
            *section("Resolved as:", reports["resolved_by_status"]),
            *section("Received by content type:", reports["by_content_type"]),
            "",
            f"Time to resolve ({ttr['decisions']} decisions on reports): median {hours(ttr['median'])}, p90 {hours(ttr['p90'])}",
        ]
        return "\n".join(lines)
