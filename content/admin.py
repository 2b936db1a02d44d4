"""Staff write the blog and the docs here. Every save goes through the services (so it keeps a revision,
drops the cached pages and follows the same rules as the API); each page has its revision history,
a compare view between any two revisions (or a draft and the live version), publish and restore."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from agentwise.access import can
from agentwise.errors import Refusal

from . import revisions, services
from .models import BlogPost, Documentation, PublicationStatus


class _PageForm(forms.ModelForm):
    """Validated by the service's own check (not the model's), so the admin refuses exactly what
    the API refuses, with the same messages, on the same fields."""

    change_summary = forms.CharField(
        required=False, max_length=2000, help_text="What changed, for the history."
    )
    save_as_draft = forms.BooleanField(
        required=False,
        label="Save as a draft",
        help_text="On a live page: keep the live version up and save this as a draft revision.",
    )
    go_live_at = forms.DateTimeField(
        required=False, label="Go live at", help_text="On a live page: publish this draft then (UTC)."
    )

    service_fields: set = set()

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.service_fields if name in self.cleaned_data}

    def check(self, fields: dict) -> None:
        raise NotImplementedError

    def _post_clean(self):
        if self.errors:
            return
        try:
            self.check(self.service_data())
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages_)
        go_live_at = self.cleaned_data.get("go_live_at")
        if go_live_at is not None:
            try:
                services._check_go_live(go_live_at)
            except ValidationError as error:
                self.add_error("go_live_at", error.message_dict["go_live_at"])


class BlogPostForm(_PageForm):
    tags = forms.CharField(required=False, help_text="Comma-separated.")
    service_fields = {"title", "slug", "excerpt", "content", "featured_image", "tags", "seo_meta", "author"}

    class Meta:
        model = BlogPost
        fields = [
            "title",
            "slug",
            "author",
            "excerpt",
            "content",
            "featured_image",
            "tags",
            "seo_meta",
            "status",
            "published_at",
        ]
        widgets = {"content": forms.Textarea(attrs={"rows": 24, "cols": 100, "class": "vLargeTextField"})}
        help_texts = {
            "content": "A JSON list of blocks: paragraph, heading, code, image, quote, callout, embed (docs/blog.md).",
            "slug": "Left empty: made from the title. Changing it keeps the old address working (301).",
            "excerpt": "Left empty: the first paragraph.",
            "published_at": "With status Published: a future time schedules the post.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        if self.instance.pk and isinstance(self.instance.tags, list):
            self.initial["tags"] = ", ".join(self.instance.tags)

    def clean_tags(self):
        return [tag.strip() for tag in (self.cleaned_data.get("tags") or "").split(",") if tag.strip()]

    def check(self, fields):
        services.blog_post_check(post=self.instance if self.instance.pk else None, fields=fields)


class DocumentationForm(_PageForm):
    service_fields = {"title", "slug", "content", "category", "position", "parent", "version", "is_published"}

    class Meta:
        model = Documentation
        fields = ["title", "slug", "version", "parent", "position", "category", "is_published", "content"]
        widgets = {"content": forms.Textarea(attrs={"rows": 24, "cols": 100, "class": "vLargeTextField"})}
        help_texts = {"content": "A JSON list of blocks, as blog posts (docs/documentation-site.md)."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False

    def check(self, fields):
        services.documentation_check(page=self.instance if self.instance.pk else None, fields=fields)


class RevisionAdminMixin:
    """History, compare, publish and restore: one mechanism for blog posts and docs pages."""

    change_form_template = "admin/content/change_form.html"

    def get_object(self, request, object_id, from_field=None):
        """A page with a newer draft opens on the draft, as in Wagtail: what you edit is the newest."""
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "GET":
            draft = revisions.draft_revision(obj)
            if draft is not None:
                obj.live_snapshot = revisions.snapshot(obj)
                revisions.apply_snapshot(obj, draft.content)
                obj.editing_draft = draft
        return obj

    def save_model(self, request, obj, form, change):
        data = form.service_data()
        summary = form.cleaned_data.get("change_summary", "")
        saved = self._save(request, obj, form, change, data, summary)
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def save_related(self, request, form, formsets, change):
        pass  # nothing related is edited here; revisions are written by the services

    def delete_model(self, request, obj):
        try:
            self._delete(request, obj)
        except (Refusal, ValidationError) as error:
            self.message_user(request, f"{obj} was not deleted: {_message(error)}", messages.ERROR)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    # --- extra views ------------------------------------------------------------------------------

    def get_urls(self):
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/revisions/", wrap(self.revisions_view), name=f"{prefix}_revisions"),
            path("<path:object_id>/revisions/compare/", wrap(self.compare_view), name=f"{prefix}_compare"),
            path(
                "<path:object_id>/revisions/<uuid:revision_id>/preview/",
                wrap(self.preview_view),
                name=f"{prefix}_revision_preview",
            ),
            path(
                "<path:object_id>/revisions/<uuid:revision_id>/restore/",
                wrap(self.restore_view),
                name=f"{prefix}_revision_restore",
            ),
            path(
                "<path:object_id>/revisions/<uuid:revision_id>/publish/",
                wrap(self.publish_view),
                name=f"{prefix}_revision_publish",
            ),
            *super().get_urls(),
        ]

    def _page(self, request, object_id, *, write=False):
        page = self.model.objects.filter(pk=object_id).first() if _is_uuid(object_id) else None
        if page is None:
            raise Http404("No such page.")
        allowed = (
            self.has_change_permission(request, page) if write else self.has_view_permission(request, page)
        )
        if not allowed or not can(request.user, "content.view_revisions", page):
            raise PermissionDenied
        return page

    def _revision(self, page, revision_id):
        return get_object_or_404(page.revisions.select_related("author"), pk=revision_id)

    def _context(self, request, page, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": page,
            "page": page,
            "title": title,
            "url_name": f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}",
            **extra,
        }

    def revisions_view(self, request, object_id):
        page = self._page(request, object_id)
        rows = list(page.revisions.select_related("author").order_by("-created_at")[:200])
        context = self._context(
            request,
            page,
            f"History of “{page}”",
            revisions=rows,
            can_change=self.has_change_permission(request, page),
        )
        return TemplateResponse(request, "admin/content/revisions.html", context)

    def compare_view(self, request, object_id):
        page = self._page(request, object_id)
        older_id, newer_id = request.GET.get("a", ""), request.GET.get("b", "")
        if newer_id == "live" or not newer_id:
            newer_content, newer_label = revisions.snapshot(page), "the live version"
        else:
            newer = self._revision(page, _uuid_or_404(newer_id))
            newer_content, newer_label = (
                newer.content,
                f"revision of {newer.created_at:%Y-%m-%d %H:%M:%S} UTC",
            )
        if older_id == "live":
            older_content, older_label = revisions.snapshot(page), "the live version"
        else:
            older = self._revision(page, _uuid_or_404(older_id))
            older_content, older_label = (
                older.content,
                f"revision of {older.created_at:%Y-%m-%d %H:%M:%S} UTC",
            )
        changes = revisions.revision_compare(self.model, older_content, newer_content)
        context = self._context(
            request,
            page,
            f"Compare {older_label} with {newer_label}",
            changes=changes,
            older_label=older_label,
            newer_label=newer_label,
        )
        return TemplateResponse(request, "admin/content/compare.html", context)

    def preview_view(self, request, object_id, revision_id):
        page = self._page(request, object_id)
        revision = self._revision(page, revision_id)
        context = self._context(
            request,
            page,
            f"Preview of the revision of {revision.created_at:%Y-%m-%d %H:%M} UTC",
            revision=revision,
            body=revisions.rendered_preview(revision.content),
            fields=json.dumps(
                {k: v for k, v in revision.content.items() if k != "content"}, indent=2, ensure_ascii=False
            ),
        )
        return TemplateResponse(request, "admin/content/preview.html", context)

    def restore_view(self, request, object_id, revision_id):
        page = self._page(request, object_id, write=True)
        revision = self._revision(page, revision_id)
        if request.method == "POST":
            try:
                services.revision_restore(
                    actor=request.user,
                    page=page,
                    revision=revision,
                    publish=bool(request.POST.get("publish")),
                )
            except (Refusal, ValidationError) as error:
                self.message_user(request, _message(error), messages.ERROR)
            else:
                self.message_user(
                    request, "Restored as a new revision; nothing in the history was lost.", messages.SUCCESS
                )
            return HttpResponseRedirect(self._revisions_url(page))
        context = self._context(
            request,
            page,
            f"Restore the revision of {revision.created_at:%Y-%m-%d %H:%M} UTC?",
            revision=revision,
            changes=revisions.revision_compare(self.model, revisions.snapshot(page), revision.content),
        )
        return TemplateResponse(request, "admin/content/restore.html", context)

    def publish_view(self, request, object_id, revision_id):
        if request.method != "POST":
            return HttpResponseRedirect(self._revisions_url(self._page(request, object_id)))
        page = self._page(request, object_id, write=True)
        revision = self._revision(page, revision_id)
        try:
            services.revision_publish(actor=request.user, page=page, revision=revision)
        except (Refusal, ValidationError) as error:
            self.message_user(request, _message(error), messages.ERROR)
        else:
            self.message_user(request, "Published.", messages.SUCCESS)
        return HttpResponseRedirect(self._revisions_url(page))

    def _revisions_url(self, page):
        return reverse(
            f"admin:{self.model._meta.app_label}_{self.model._meta.model_name}_revisions", args=[page.pk]
        )

    @admin.display(description="History")
    def history_link(self, obj):
        if obj.pk is None:
            return "—"
        return format_html('<a href="{}">Revisions</a>', self._revisions_url(obj))

    @admin.display(description="State")
    def publication_state(self, obj):
        draft = revisions.draft_revision(obj) if obj.has_unpublished_changes else None
        if draft is not None and draft.go_live_at:
            return f"Draft scheduled for {draft.go_live_at:%Y-%m-%d %H:%M} UTC"
        if draft is not None:
            return "Unpublished changes"
        return "Up to date"


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _uuid_or_404(value):
    if not _is_uuid(value):
        raise Http404("No such revision.")
    return value


def _message(error) -> str:
    return getattr(error, "message", None) or " ".join(getattr(error, "messages", [str(error)]))


@admin.register(BlogPost)
class BlogPostAdmin(RevisionAdminMixin, admin.ModelAdmin):
    form = BlogPostForm
    list_display = [
        "title",
        "status",
        "published_at",
        "author",
        "view_count",
        "has_unpublished_changes",
        "history_link",
    ]
    list_filter = ["status", "has_unpublished_changes", "published_at"]
    search_fields = ["title", "slug", "excerpt"]
    list_select_related = ["author", "latest_revision"]
    raw_id_fields = ["author"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "view_count",
        "reading_time",
        "publication_state",
        "history_link",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["title", "slug", "author", "excerpt", "content", "featured_image", "tags"]}),
        (
            "Publishing",
            {
                "fields": [
                    "status",
                    "published_at",
                    "save_as_draft",
                    "go_live_at",
                    "change_summary",
                    "publication_state",
                    "history_link",
                ]
            },
        ),
        ("Search engines", {"fields": ["seo_meta"], "classes": ["collapse"]}),
        ("Figures", {"fields": ["view_count", "reading_time", "created_at", "updated_at"]}),
    ]

    def _save(self, request, obj, form, change, data, summary):
        status, published_at = form.cleaned_data.get("status"), form.cleaned_data.get("published_at")
        if not change:
            return services.blog_post_create(
                actor=request.user,
                fields=data,
                status=status,
                published_at=published_at,
                change_summary=summary,
            )
        post = BlogPost.objects.get(pk=obj.pk)
        draft = form.cleaned_data.get("save_as_draft") or form.cleaned_data.get("go_live_at")
        return services.blog_post_update(
            actor=request.user,
            post=post,
            fields=data,
            change_summary=summary,
            status=None if draft else status,
            published_at=None if draft else published_at,
            draft=bool(form.cleaned_data.get("save_as_draft")),
            go_live_at=form.cleaned_data.get("go_live_at"),
        )

    def _delete(self, request, obj):
        services.blog_post_delete(actor=request.user, post=obj)

    @admin.action(permissions=["change"], description="Archive (off the blog, the feed and the sitemap)")
    def archive(self, request, queryset):
        for post in queryset:
            services.blog_post_update(
                actor=request.user,
                post=post,
                fields={},
                status=PublicationStatus.ARCHIVED,
                change_summary="Archived",
            )
        self.message_user(request, f"Archived {queryset.count()} post(s).", messages.SUCCESS)

    actions = ["archive"]


@admin.register(Documentation)
class DocumentationAdmin(RevisionAdminMixin, admin.ModelAdmin):
    form = DocumentationForm
    list_display = [
        "title",
        "version",
        "parent",
        "position",
        "category",
        "is_published",
        "has_unpublished_changes",
        "updated_at",
        "history_link",
    ]
    list_filter = ["version", "is_published", "has_unpublished_changes", "category"]
    search_fields = ["title", "slug", "search_content"]
    list_select_related = ["parent"]
    raw_id_fields = ["parent"]
    readonly_fields = ["publication_state", "history_link", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "version", "parent", "position", "category", "content"]}),
        (
            "Publishing",
            {
                "fields": [
                    "is_published",
                    "save_as_draft",
                    "go_live_at",
                    "change_summary",
                    "publication_state",
                    "history_link",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    def _save(self, request, obj, form, change, data, summary):
        if not change:
            return services.documentation_create(actor=request.user, fields=data, change_summary=summary)
        page = Documentation.objects.get(pk=obj.pk)
        return services.documentation_update(
            actor=request.user,
            page=page,
            fields=data,
            change_summary=summary,
            draft=bool(form.cleaned_data.get("save_as_draft")),
            go_live_at=form.cleaned_data.get("go_live_at"),
        )

    def _delete(self, request, obj):
        services.documentation_delete(actor=request.user, page=obj)
from .newsletter import admin as newsletter_admin  # noqa: E402,F401  (registers the newsletter's admin)
