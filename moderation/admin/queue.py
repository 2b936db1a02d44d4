"""Admin: the report queue, decisions and sanctions (docs/reports-and-sanctions.md).

The queue's changelist shows one row per reported item (its oldest report stands for the group), pending
items first, with every reason and the content in context. Staff act through admin actions that call the
services (``moderation.reports``, ``moderation.sanctions``): nothing here edits a row directly.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from agentwise.admin_base import ViewOnlyModelAdmin
from agentwise.errors import Refusal

from .. import reports, sanctions, selectors
from ..models import ItemStatus, ModerationDecision, ModerationItem, Sanction, SanctionKind

ACTION_TEMPLATE = "admin/moderation/queue_action.html"


def _error_text(error) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return getattr(error, "message", str(error))


# --- forms of the actions ----------------------------------------------------------------------------


class ResolveForm(forms.Form):
    reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                             help_text="Recorded with the decision; for a removal, shown to the author.")
    notes = forms.CharField(required=False, max_length=reports.MAX_NOTES_CHARS, widget=forms.Textarea(attrs={"rows": 2}),
                            help_text="Moderators' notes, kept on the reports.")


class SanctionFieldsForm(forms.Form):
    kind = forms.ChoiceField(choices=SanctionKind.choices)
    sanction_reason = forms.CharField(label="Reason shown to the user", max_length=sanctions.MAX_REASON_CHARS,
                                      widget=forms.Textarea(attrs={"rows": 2}))
    duration_hours = forms.IntegerField(required=False, min_value=1, max_value=24 * 365 * 5,
                                        help_text="Empty: until a moderator lifts it.")
    posts_per_hour = forms.IntegerField(required=False, min_value=1, max_value=10000, help_text="Posting limit only.")

    def clean(self):
        data = super().clean()
        if data.get("kind") == SanctionKind.POST_LIMIT and not data.get("posts_per_hour"):
            self.add_error("posts_per_hour", "A posting limit needs a number of posts per hour.")
        return data

    def sanction_kwargs(self) -> dict:
        data = self.cleaned_data
        hours = data.get("duration_hours")
        return {"kind": data["kind"], "reason": data["sanction_reason"],
                "duration": timedelta(hours=hours) if hours else None, "posts_per_hour": data.get("posts_per_hour")}


class RemoveAndSanctionForm(ResolveForm, SanctionFieldsForm):
    pass


class NoteForm(forms.Form):
    notes = forms.CharField(max_length=reports.MAX_NOTES_CHARS, widget=forms.Textarea(attrs={"rows": 3}))


class PurgeForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=365, initial=7, help_text="Remove what they posted in this many days.")
    reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


def _intermediate(modeladmin, request, queryset, *, form_class, action: str, title: str, run, initial=None):
    """Shows ``form_class`` for the selected rows; on a valid POST, runs ``run(form)`` (-> message) and returns None."""
    form = form_class(request.POST if "confirm" in request.POST else None, initial=initial)
    if "confirm" in request.POST and form.is_valid():
        modeladmin.message_user(request, run(form), messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "form": form,
        "action": action,
        "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
        "objects": list(queryset[:50]),
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, ACTION_TEMPLATE, context)


# --- the queue ---------------------------------------------------------------------------------------


class QueueStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(group_pending__gt=0)
        if self.value() == "resolved":
            return queryset.filter(group_pending=0)
        return queryset


class QueueChangeList(ChangeList):
    def get_results(self, request):
        """Every reason of the page's items in one query (not one per row)."""
        super().get_results(request)
        keys = {(item.content_type, item.content_id) for item in self.result_list}
        reasons: dict = {key: [] for key in keys}
        if keys:
            query = Q()
            for content_type, content_id in keys:
                query |= Q(content_type=content_type, content_id=content_id)
            rows = (ModerationItem.objects.filter(query).order_by("created_at")
                    .values_list("content_type", "content_id", "status", "reason", "reported_by__username", "source"))
            for content_type, content_id, status, reason, who, source in rows:
                reasons[(content_type, content_id)].append((status, reason, who, source))
        for item in self.result_list:
            item.group_reasons = reasons.get((item.content_type, item.content_id), [])


@admin.register(ModerationItem)
class ReportQueueAdmin(admin.ModelAdmin):
    """One row per reported item; open it to see the content and every report."""

    list_display = ["item", "excerpt", "author", "reasons", "pending_count", "first_reported", "group_state"]
    list_filter = [QueueStateFilter, "content_type", "source"]
    search_fields = ["content_excerpt", "reason", "content_author__username", "content_id"]
    list_select_related = ["content_author"]
    list_per_page = 50
    actions = ["approve", "remove", "remove_and_sanction", "add_note", "purge_authors"]
    readonly_fields = ["content_in_context", "all_reports", "content_type", "content_id", "content_author", "source", "rule",
                       "status", "moderator", "resolved_at", "moderation_notes", "created_at"]
    fieldsets = [
        (None, {"fields": ["content_in_context", "all_reports"]}),
        ("This report", {"fields": ["content_type", "content_id", "content_author", "source", "rule", "status", "moderator",
                                    "resolved_at", "moderation_notes", "created_at"]}),
    ]

    def get_queryset(self, request):
        group = ModerationItem.objects.filter(content_type=OuterRef("content_type"), content_id=OuterRef("content_id"))
        first = group.order_by("created_at", "pk").values("pk")[:1]
        pending = group.filter(status=ItemStatus.PENDING).order_by().values("content_type").annotate(n=Count("pk")).values("n")
        last_status = group.order_by("-resolved_at", "-created_at").values("status")[:1]
        return (
            ModerationItem.objects.select_related("content_author")
            .filter(pk=Subquery(first))
            .annotate(
                group_pending=Subquery(pending),
                group_has_pending=Exists(group.filter(status=ItemStatus.PENDING)),
                group_last_status=Subquery(last_status),
                group_last_at=Subquery(group.order_by().values("content_type").annotate(m=Max("created_at")).values("m")),
            )
            .order_by(*self.get_ordering(request))
        )

    def get_changelist(self, request, **kwargs):
        return QueueChangeList

    def get_ordering(self, request):
        return ["-group_has_pending", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The detail page is read-only; decisions are the actions (which ask for "change").
        return obj is None and super().has_change_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not super().has_change_permission(request):
            return {}
        return actions

    # --- columns ---

    @admin.display(description="Item")
    def item(self, obj):
        return format_html("{} <code>{}</code>", obj.get_content_type_display(), Truncator(obj.content_id).chars(12))

    @admin.display(description="Content")
    def excerpt(self, obj):
        return Truncator(obj.content_excerpt).chars(120)

    @admin.display(description="Author")
    def author(self, obj):
        return obj.content_author.username if obj.content_author else "—"

    @admin.display(description="Reasons")
    def reasons(self, obj):
        rows = getattr(obj, "group_reasons", None)
        if rows is None:
            rows = [(i.status, i.reason, i.reported_by.username if i.reported_by else None, i.source)
                    for i in selectors.item_reports(content_type=obj.content_type, content_id=obj.content_id)]
        return format_html_join(
            "", "<div>{}{}: {}</div>",
            (("" if status == ItemStatus.PENDING else "✓ ", f"@{who}" if who else source, Truncator(reason or "—").chars(80))
             for status, reason, who, source in rows),
        )

    @admin.display(description="Pending", ordering="group_pending")
    def pending_count(self, obj):
        return obj.group_pending or 0

    @admin.display(description="First reported", ordering="created_at")
    def first_reported(self, obj):
        return obj.created_at

    @admin.display(description="State")
    def group_state(self, obj):
        return "pending" if obj.group_has_pending else obj.group_last_status

    @admin.display(description="Content in context")
    def content_in_context(self, obj):
        content = selectors.content_for_staff(content_type=obj.content_type, content_id=obj.content_id)
        if content is None:
            return format_html("<p>Gone (deleted). As reported:</p><pre style='white-space:pre-wrap'>{}</pre>", obj.content_excerpt)
        state = getattr(content.obj, "moderation_state", "")
        deleted = getattr(content.obj, "deleted_at", None)
        author = content.author.username if content.author else "deleted user"
        return format_html(
            "<p>By <strong>@{}</strong>{}{} · <a href='{}' target='_blank' rel='noopener'>open where it lives</a></p>"
            "<pre style='white-space:pre-wrap;max-width:60em'>{}</pre>",
            author, f" · state: {state}" if state else "", " · deleted" if deleted else "", content.url, content.excerpt,
        )

    @admin.display(description="All reports on this item")
    def all_reports(self, obj):
        rows = selectors.item_reports(content_type=obj.content_type, content_id=obj.content_id)
        return format_html(
            "<table><tr><th>When</th><th>By</th><th>Reason</th><th>Status</th><th>Moderator</th><th>Notes</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
                (f"{i.created_at:%Y-%m-%d %H:%M}", f"@{i.reported_by.username}" if i.reported_by else i.get_source_display(),
                 i.reason or (i.rule.category if i.rule else ""), i.get_status_display(),
                 i.moderator.username if i.moderator else "", i.moderation_notes)
                for i in rows
            )),
        )

    # --- actions ---

    def _groups(self, queryset):
        return list({(obj.content_type, obj.content_id) for obj in queryset})

    def _resolve_all(self, request, queryset, *, outcome, reason="", notes="", sanction=None) -> str:
        done, failed = 0, []
        for content_type, content_id in self._groups(queryset):
            try:
                reports.item_resolve(actor=request.user, content_type=content_type, content_id=content_id, outcome=outcome,
                                     reason=reason, notes=notes, sanction=sanction)
                done += 1
            except (Refusal, ValidationError, PermissionDenied) as error:
                failed.append(f"{content_type} {content_id}: {_error_text(error)}")
        if failed:
            self.message_user(request, "Not resolved: " + "; ".join(failed), messages.WARNING)
        return f"{'Approved' if outcome == 'approve' else 'Removed'} {done} item(s)."

    @admin.action(description="Approve (dismiss the reports; show hidden content again)", permissions=["change"])
    def approve(self, request, queryset):
        return _intermediate(self, request, queryset, form_class=ResolveForm, action="approve", title="Approve: dismiss the reports",
                             run=lambda form: self._resolve_all(request, queryset, outcome="approve", **form.cleaned_data))

    @admin.action(description="Remove the content (the author is notified)", permissions=["change"])
    def remove(self, request, queryset):
        return _intermediate(self, request, queryset, form_class=ResolveForm, action="remove", title="Remove the content",
                             run=lambda form: self._resolve_all(request, queryset, outcome="remove", **form.cleaned_data))

    @admin.action(description="Remove the content and sanction its author", permissions=["change"])
    def remove_and_sanction(self, request, queryset):
        def run(form):
            data = form.cleaned_data
            return self._resolve_all(request, queryset, outcome="remove", reason=data["reason"], notes=data["notes"],
                                     sanction=form.sanction_kwargs())

        return _intermediate(self, request, queryset, form_class=RemoveAndSanctionForm, action="remove_and_sanction",
                             title="Remove and sanction the author", run=run)

    @admin.action(description="Add a note to the pending reports", permissions=["change"])
    def add_note(self, request, queryset):
        def run(form):
            count = sum(reports.item_note_add(actor=request.user, content_type=ct, content_id=cid, notes=form.cleaned_data["notes"])
                        for ct, cid in self._groups(queryset))
            return f"Noted on {count} report(s)."

        return _intermediate(self, request, queryset, form_class=NoteForm, action="add_note", title="Add a note", run=run)

    @admin.action(description="Remove ALL content of these authors from the last N days", permissions=["change"])
    def purge_authors(self, request, queryset):
        authors = {obj.content_author for obj in queryset.select_related("content_author") if obj.content_author}
        return _purge(self, request, queryset, authors)


def _purge(modeladmin, request, queryset, users):
    def run(form):
        totals = []
        for user in users:
            try:
                counts = sanctions.user_content_purge(actor=request.user, user=user, days=form.cleaned_data["days"],
                                                      reason=form.cleaned_data["reason"])
            except (Refusal, ValidationError, PermissionDenied) as error:
                modeladmin.message_user(request, f"@{user.username}: {_error_text(error)}", messages.WARNING)
                continue
            totals.append(f"@{user.username}: {counts['messages']} messages, {counts['forum_posts']} topics, "
                          f"{counts['forum_replies']} replies")
        return "Removed " + ("; ".join(totals) or "nothing") + "."

    return _intermediate(modeladmin, request, queryset, form_class=PurgeForm, action="purge_authors" if queryset.model is ModerationItem else "purge_users",
                         title="Remove all recent content of " + ", ".join(sorted(f"@{u.username}" for u in users)), run=run)


# --- decisions and sanctions ---------------------------------------------------------------------------


@admin.register(ModerationDecision)
class ModerationDecisionAdmin(ViewOnlyModelAdmin):
    """Every outcome, manual or automatic: read-only (the transparency report counts these)."""

    list_display = ["created_at", "kind", "content_type", "content_id", "target_user", "moderator", "report_count", "short_reason"]
    list_filter = ["kind", "content_type", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["content_id", "reason", "target_user__username", "moderator__username"]
    list_select_related = ["target_user", "moderator"]
    date_hierarchy = "created_at"

    @admin.display(description="Reason")
    def short_reason(self, obj):
        return Truncator(obj.reason).chars(80)


class SanctionAddForm(forms.ModelForm):
    duration_hours = forms.IntegerField(required=False, min_value=1, max_value=24 * 365 * 5,
                                        help_text="Empty: until a moderator lifts it.")

    class Meta:
        model = Sanction
        fields = ["user", "kind", "reason", "posts_per_hour"]

    def clean(self):
        data = super().clean()
        if data.get("kind") == SanctionKind.POST_LIMIT and not data.get("posts_per_hour"):
            self.add_error("posts_per_hour", "A posting limit needs a number of posts per hour.")
        return data


class ActiveFilter(admin.SimpleListFilter):
    title = "in force"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "In force"), ("no", "Expired or lifted")]

    def queryset(self, request, queryset):
        from django.utils import timezone

        now = timezone.now()
        active = Q(lifted_at__isnull=True, starts_at__lte=now) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        if self.value() == "yes":
            return queryset.filter(active)
        if self.value() == "no":
            return queryset.exclude(active)
        return queryset


@admin.register(Sanction)
class SanctionAdmin(admin.ModelAdmin):
    """Sanctions are created here (through ``sanction_create``) and lifted by the action; never edited."""

    list_display = ["user", "kind", "posts_per_hour", "starts_at", "expires_at", "in_force", "created_by", "lifted_at"]
    list_filter = [ActiveFilter, "kind"]
    search_fields = ["user__username", "user__email", "reason"]
    list_select_related = ["user", "created_by"]
    raw_id_fields = ["user"]
    actions = ["lift", "purge_users"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = SanctionAddForm
            kwargs["fields"] = ["user", "kind", "reason", "duration_hours", "posts_per_hour"]
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["user", "kind", "reason", "duration_hours", "posts_per_hour"]
        return ["user", "kind", "reason", "posts_per_hour", "starts_at", "expires_at", "created_by", "created_at", "lifted_at", "lifted_by"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj) if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return
        hours = form.cleaned_data.get("duration_hours")
        try:
            created = sanctions.sanction_create(
                actor=request.user, user=form.cleaned_data["user"], kind=form.cleaned_data["kind"], reason=form.cleaned_data["reason"],
                duration=timedelta(hours=hours) if hours else None, posts_per_hour=form.cleaned_data.get("posts_per_hour"),
            )
        except (Refusal, ValidationError, PermissionDenied) as error:
            raise PermissionDenied(_error_text(error)) from None
        obj.pk, obj._state.adding, obj._state.db = created.pk, False, "default"

    def save_related(self, request, form, formsets, change):
        pass

    @admin.display(boolean=True, description="In force")
    def in_force(self, obj):
        from django.utils import timezone

        return obj.is_active_at(timezone.now())

    @admin.action(description="Lift the selected sanctions now", permissions=["change"])
    def lift(self, request, queryset):
        lifted = 0
        for sanction in queryset.filter(lifted_at__isnull=True).select_related("user"):
            try:
                sanctions.sanction_lift(actor=request.user, sanction=sanction, reason="Lifted in the admin")
                lifted += 1
            except (Refusal, PermissionDenied) as error:
                self.message_user(request, _error_text(error), messages.WARNING)
        self.message_user(request, f"Lifted {lifted} sanction(s).", messages.SUCCESS)

    @admin.action(description="Remove ALL content of these users from the last N days", permissions=["change"])
    def purge_users(self, request, queryset):
        return _purge(self, request, queryset, {s.user for s in queryset.select_related("user")})


def queue_url() -> str:
    return reverse("admin:moderation_moderationitem_changelist") + "?state=pending"
