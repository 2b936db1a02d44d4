"""The newsletter in the admin: a campaign editor with preview and "send a test to me", send /
schedule / cancel / resume / resend-to-failed, live progress, per-campaign stats, and the subscriber
list. Every change goes through ``newsletter.services`` and ``newsletter.sending``."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from agentwise.access import can
from agentwise.errors import Refusal
from content.models import Campaign, CampaignStatus, Delivery, Subscriber, SubscriberStatus

from . import messages as newsletter_messages
from . import selectors, sending, services


class CampaignForm(forms.ModelForm):
    """Checked by the service (``campaign_check``), so the admin refuses what the service refuses."""

    class Meta:
        model = Campaign
        fields = ["subject", "preheader", "content", "blog_post", "audience", "audience_tier"]
        widgets = {"content": forms.Textarea(attrs={"rows": 20, "cols": 100, "class": "vLargeTextField"})}
        help_texts = {
            "content": "A JSON list of blocks, as blog posts: paragraph, heading, code, image, quote, callout, embed.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["content"].required = False
        if self.instance.pk and self.instance.status not in services.EDITABLE_STATUSES:
            for field in self.fields.values():
                field.disabled = True

    def _post_clean(self):
        if self.errors:
            return
        try:
            self.cleaned_data.update(
                services.campaign_check(
                    campaign=self.instance if self.instance.pk else None, fields=self.service_data()
                )
            )
        except ValidationError as error:
            for field, field_errors in error.message_dict.items():
                self.add_error(field if field in self.fields else None, field_errors)

    def service_data(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields if name in self.cleaned_data}


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    change_form_template = "admin/content/newsletter/campaign_change_form.html"
    list_display = ["subject", "status", "progress", "audience", "scheduled_at", "started_at", "finished_at"]
    list_filter = ["status", "audience"]
    search_fields = ["subject"]
    raw_id_fields = ["blog_post"]
    readonly_fields = [
        "status",
        "progress",
        "scheduled_at",
        "started_at",
        "finished_at",
        "paused_at",
        "pause_reason",
        "created_by",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["subject", "preheader", "content", "blog_post"]}),
        ("Audience", {"fields": ["audience", "audience_tier"]}),
        ("Sending", {"fields": readonly_fields}),
    ]
    actions = ["cancel_selected"]

    @admin.display(description="Progress")
    def progress(self, campaign):
        if campaign.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
            return "—"
        failed = f", {campaign.failed_count:,} failed" if campaign.failed_count else ""
        return f"{campaign.sent_count:,} of {campaign.total_count:,} sent{failed}"

    def save_model(self, request, obj, form, change):
        data = form.service_data()
        if change:
            saved = services.campaign_update(
                actor=request.user, campaign=Campaign.objects.get(pk=obj.pk), fields=data
            )
        else:
            saved = services.campaign_create(actor=request.user, fields=data)
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def save_related(self, request, form, formsets, change):
        pass

    def has_delete_permission(self, request, obj=None):
        # A campaign that went out is the record of what subscribers got: cancel it, don't delete it.
        if obj is not None and obj.status not in services.EDITABLE_STATUSES + (CampaignStatus.CANCELLED,):
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(permissions=["change"], description="Cancel the selected campaigns")
    def cancel_selected(self, request, queryset):
        done = 0
        for campaign in queryset:
            try:
                services.campaign_cancel(actor=request.user, campaign=campaign)
                done += 1
            except ValidationError:
                continue
        self.message_user(request, f"Cancelled {done} campaign(s).", messages.SUCCESS)

    # --- the campaign's own pages and buttons ------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:object_id>/preview/", wrap(self.preview_view), name="content_campaign_preview"),
            path("<int:object_id>/progress/", wrap(self.progress_view), name="content_campaign_progress"),
            path("<int:object_id>/stats/", wrap(self.stats_view), name="content_campaign_stats"),
            path("<int:object_id>/do/<slug:verb>/", wrap(self.action_view), name="content_campaign_action"),
            *super().get_urls(),
        ]

    def _campaign(self, request, object_id, *, write=False) -> Campaign:
        campaign = Campaign.objects.select_related("blog_post").filter(pk=object_id).first()
        if campaign is None:
            raise Http404("No such campaign.")
        allowed = (
            self.has_change_permission(request, campaign)
            if write
            else self.has_view_permission(request, campaign)
        )
        if not allowed or not can(request.user, "content.manage_campaign", campaign):
            raise PermissionDenied
        return campaign

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        campaign = Campaign.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if campaign is not None:
            extra_context["campaign_stats"] = selectors.campaign_stats(campaign)
            extra_context["campaign_progress"] = selectors.campaign_progress(campaign)
        return super().change_view(request, object_id, form_url, extra_context)

    def preview_view(self, request, object_id):
        """The email as a subscriber sees it (HTML part), greeting the staff member."""
        campaign = self._campaign(request, object_id)
        message = newsletter_messages.compose(
            newsletter_messages.campaign_body(campaign),
            campaign_id=campaign.pk,
            email=request.user.email,
            name=request.user.username,
            subscriber_id=None,
            test=True,
        )
        html = message.alternatives[0][0]
        response = HttpResponse(html)
        # The body was sanitised on save and rendered through templates; still, show it sandboxed.
        response["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
        )
        return response

    def progress_view(self, request, object_id):
        campaign = self._campaign(request, object_id)
        return JsonResponse(selectors.campaign_progress(campaign))

    def stats_view(self, request, object_id):
        campaign = self._campaign(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": campaign,
            "title": f"Stats of “{campaign}”",
            "stats": selectors.campaign_stats(campaign),
        }
        return TemplateResponse(request, "admin/content/newsletter/campaign_stats.html", context)

    def action_view(self, request, object_id, verb):
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        campaign = self._campaign(request, object_id, write=True)
        change_url = reverse("admin:content_campaign_change", args=[campaign.pk])
        try:
            notice = self._act(request, campaign, verb)
        except (ValidationError, Refusal) as error:
            text = " ".join(error.messages) if isinstance(error, ValidationError) else error.message
            self.message_user(request, text, messages.ERROR)
        else:
            self.message_user(request, notice, messages.SUCCESS)
        return HttpResponseRedirect(change_url)

    def _act(self, request, campaign: Campaign, verb: str) -> str:
        user = request.user
        if verb == "test":
            services.campaign_send_test(actor=user, campaign=campaign)
            return f"A test was sent to {user.email}."
        if verb == "send":
            started = sending.campaign_start(campaign_id=campaign.pk, actor=user)
            if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
                return f"Nothing more to send: the campaign is {campaign.get_status_display().lower()}."
            return f"Sending to {started.total_count:,} subscriber(s)."
        if verb == "schedule":
            at = _parse_moment(request.POST.get("scheduled_at", ""))
            services.campaign_schedule(actor=user, campaign=campaign, at=at)
            return f"Scheduled for {at:%Y-%m-%d %H:%M} UTC."
        if verb == "cancel":
            services.campaign_cancel(actor=user, campaign=campaign)
            return "Cancelled: nothing more is sent."
        if verb == "resume":
            sending.campaign_resume(actor=user, campaign=campaign)
            return "Resumed where it stopped."
        if verb == "resend-failed":
            count = sending.campaign_resend_failed(actor=user, campaign=campaign)
            return f"Sending again to {count:,} failed recipient(s)." if count else "No failed recipients."
        raise Http404("No such action.")


def _parse_moment(value: str) -> datetime:
    """The schedule form's ``datetime-local`` value, read as UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise ValidationError({"scheduled_at": ["Enter a date and time (UTC)."]}) from error
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "status", "source", "user", "created_at", "confirmed_at", "unsubscribed_at"]
    list_filter = ["status", "source"]
    search_fields = ["email", "user__username"]
    list_select_related = ["user"]
    readonly_fields = [
        "email",
        "user",
        "status",
        "source",
        "created_at",
        "updated_at",
        "confirmed_at",
        "unsubscribed_at",
        "bounced_at",
    ]
    actions = ["unsubscribe_selected", "reactivate_selected"]

    def has_add_permission(self, request):
        return False  # people subscribe themselves (double opt-in); staff don't add addresses

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def delete_model(self, request, obj):
        services.subscribers_delete(actor=request.user, subscriber_ids=[obj.pk])

    def delete_queryset(self, request, queryset):
        services.subscribers_delete(
            actor=request.user, subscriber_ids=list(queryset.values_list("pk", flat=True))
        )

    @admin.action(description="Unsubscribe the selected addresses", permissions=["change"])
    def unsubscribe_selected(self, request, queryset):
        count = services.subscribers_set_status(
            actor=request.user,
            subscriber_ids=list(queryset.values_list("pk", flat=True)),
            status=SubscriberStatus.UNSUBSCRIBED,
        )
        self.message_user(request, f"Unsubscribed {count} address(es).", messages.SUCCESS)

    @admin.action(
        description="Reactivate the selected addresses (e.g. a bounce that was a mistake)",
        permissions=["change"],
    )
    def reactivate_selected(self, request, queryset):
        count = services.subscribers_set_status(
            actor=request.user,
            subscriber_ids=list(queryset.values_list("pk", flat=True)),
            status=SubscriberStatus.ACTIVE,
        )
        self.message_user(request, f"Reactivated {count} address(es).", messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["email", "campaign", "status", "attempts", "sent_at", "short_error"]
    list_filter = ["status"]
    search_fields = ["email", "provider_message_id"]
    list_select_related = ["campaign"]
    raw_id_fields = ["campaign", "subscriber"]
    show_full_result_count = False  # a count of every delivery is slow on a big list

    @admin.display(description="Error")
    def short_error(self, delivery):
        return delivery.error[:120]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
