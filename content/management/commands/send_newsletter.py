"""``manage.py send_newsletter <campaign id>``: sends a campaign from this process, with a progress bar.

A draft or scheduled campaign starts here; a campaign already sending (workers on it, or a previous
run killed half-way) is finished from where it is; a sent one sends nothing more. Running it twice,
or beside the Celery workers, sends nobody a second message: every recipient is claimed first.
"""

from __future__ import annotations

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from content.models import Campaign, CampaignStatus
from content.newsletter import sending


class Command(BaseCommand):
    help = "Sends a newsletter campaign from this process (a progress bar on stderr)."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)

    def handle(self, *args, campaign_id: int, **options):
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"No campaign {campaign_id}.")
        if campaign.status == CampaignStatus.SENT:
            self.stdout.write(f"Campaign {campaign_id} was already sent: nothing more to send.")
            return
        if campaign.status == CampaignStatus.CANCELLED:
            raise CommandError(f"Campaign {campaign_id} was cancelled.")
        if campaign.status == CampaignStatus.PAUSED:
            raise CommandError(f"Campaign {campaign_id} is paused ({campaign.pause_reason}): resume it in the admin.")
        try:
            campaign = sending.campaign_start(campaign_id=campaign_id, fan_out=False)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        done = campaign.sent_count + campaign.failed_count
        bar = tqdm(total=campaign.total_count, initial=done, unit="msg", file=self.stderr._out, mininterval=0.5)
        try:
            while True:
                report = sending.campaign_batch_send(campaign_id=campaign_id, progress=bar.update, follow_up=False)
                campaign.refresh_from_db()
                bar.n = max(bar.n, campaign.sent_count + campaign.failed_count)  # workers may be sending too
                bar.refresh()
                if report.finished or campaign.status != CampaignStatus.SENDING:
                    break
                if not report.claimed:
                    time.sleep(1)  # only other senders' claims or retries left: wait for them
        finally:
            bar.close()
        self.stdout.write(
            f"Campaign {campaign_id}: {campaign.get_status_display().lower()}, "
            f"{campaign.sent_count:,} sent, {campaign.failed_count:,} failed of {campaign.total_count:,}."
        )
