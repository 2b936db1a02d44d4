from datetime import date

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from projects.metering import month_bounds
from projects.models import UsageMetric, UsageMetricType
from projects.pricing import micros_to_usd

METRICS = [m.value for m in UsageMetricType]


class Command(BaseCommand):
    help = "Prints each user's usage for a month (default: this month), with a progress bar on stderr."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM (default: the current month)")
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, month=None, batch_size=500, **options):
        if month:
            try:
                year, number = (int(part) for part in month.split("-"))
                start, end = month_bounds(date(year, number, 1))
            except ValueError:
                raise CommandError("--month must look like 2026-11.") from None
        else:
            start, end = month_bounds(timezone.localdate())
        users = get_user_model().objects.filter(usage_metrics__period_start=start, usage_metrics__period_end=end)
        user_ids = list(users.distinct().order_by("username").values_list("pk", "username"))
        header = ["user", *METRICS]
        self.stdout.write(f"Usage for {start:%Y-%m} ({len(user_ids)} users)")
        self.stdout.write("\t".join(header))
        totals = dict.fromkeys(METRICS, 0)
        progress = tqdm(total=len(user_ids), unit="user", file=self.stderr._out, disable=None)
        for offset in range(0, len(user_ids), batch_size):
            batch = dict(user_ids[offset : offset + batch_size])
            rows = UsageMetric.objects.filter(user_id__in=batch, period_start=start, period_end=end).values_list(
                "user_id", "metric_type", "value"
            )
            per_user: dict = {}
            for user_id, metric, value in rows:
                per_user.setdefault(user_id, {})[metric] = value
            for user_id, username in batch.items():
                values = per_user.get(user_id, {})
                cells = []
                for metric in METRICS:
                    value = values.get(metric, 0)
                    totals[metric] += value
                    cells.append(f"${micros_to_usd(value)}" if metric == "cost" else str(value))
                self.stdout.write("\t".join([username, *cells]))
                progress.update(1)
        progress.close()
        self.stdout.write("\t".join(["TOTAL", *(f"${micros_to_usd(v)}" if m == "cost" else str(v) for m, v in totals.items())]))
