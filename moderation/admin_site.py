"""The admin site: its index is the moderation dashboard, and dj-stripe's many models sit in one
"Billing (Stripe)" section at the end, seen only by those allowed to (docs/moderation.md).

Outside the ``moderation.admin`` package on purpose: the admin builds its default site by importing
this class, and a module that registered ModelAdmins on ``admin.site`` while the site is being built
would register them on an instance that is then thrown away."""

from __future__ import annotations

from django.contrib import admin

from moderation import dashboard

BILLING_APPS = ("djstripe", "billing")
BILLING_SECTION = "Billing (Stripe)"
CHART_HEIGHT = 80
BAR_WIDTH = 14
DAY_WIDTH = 40


def can_moderate(user) -> bool:
    """Who sees the dashboard's figures: staff allowed to read the queue (the Moderators group, superusers)."""
    return user.is_active and user.is_staff and user.has_perm("moderation.view_moderationitem")


def chart_bars(days) -> dict:
    """An SVG bar chart drawn server-side: no script, nothing for the CSP to allow."""
    peak = max([1, *(d.reports for d in days), *(d.blocks for d in days)])
    bars = []
    for i, day in enumerate(days):
        x = i * DAY_WIDTH + 6
        for offset, value, kind in ((0, day.reports, "reports"), (BAR_WIDTH + 2, day.blocks, "blocks")):
            height = round(value / peak * CHART_HEIGHT)
            bars.append(
                {"x": x + offset, "y": CHART_HEIGHT - height, "height": height, "kind": kind, "value": value, "day": day.day}
            )
    return {
        "bars": bars,
        "labels": [{"x": i * DAY_WIDTH + 6, "day": d.day} for i, d in enumerate(days)],
        "width": len(days) * DAY_WIDTH + 12,
        "height": CHART_HEIGHT,
        "peak": peak,
        "days": days,
    }


class ModerationAdminSite(admin.AdminSite):
    site_header = "Agentwise moderation"
    site_title = "Agentwise admin"
    index_title = "Moderation dashboard"
    index_template = "admin/moderation_index.html"

    def index(self, request, extra_context=None):
        context = dict(extra_context or {})
        if can_moderate(request.user):
            context["tiles"] = dashboard.dashboard_tiles()
            context["chart"] = chart_bars(dashboard.dashboard_chart())
        return super().index(request, extra_context=context)

    def get_app_list(self, request, app_label=None):
        """dj-stripe's models (and billing's) in one section at the end; Django already leaves out the
        models a user has no permission for, so only billing admins and superusers see it."""
        apps = super().get_app_list(request, app_label)
        billing = [a for a in apps if a["app_label"] in BILLING_APPS]
        others = [a for a in apps if a["app_label"] not in BILLING_APPS]
        if not billing:
            return others
        merged = {
            **billing[0],
            "name": BILLING_SECTION,
            "models": sorted((m for a in billing for m in a["models"]), key=lambda m: m["name"]),
        }
        return [*others, merged]
