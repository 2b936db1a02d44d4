"""Admin: content rules (``ProfanityPattern``, docs/content-rules.md). Edits go through
``moderation.rules.pattern_save`` / ``pattern_delete`` / ``pattern_import`` (which keep the compiled cache
current); the form refuses an invalid or dangerous regex and an empty word; CSV import (all or nothing,
errors per row) and export; and a "Test this text" page showing which rules match and what would happen."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .. import rules
from ..models import ProfanityPattern

MAX_IMPORT_BYTES = 1024 * 1024


class ProfanityPatternForm(forms.ModelForm):
    class Meta:
        model = ProfanityPattern
        fields = ["pattern", "kind", "action", "severity", "category", "is_active"]
        widgets = {"pattern": forms.TextInput(attrs={"size": 60})}
        help_texts = {
            "pattern": "A word (matched as a whole word, in any case, with look-alike letters, digits for letters "
            "and spaced-out letters), or a Python regular expression applied to the normalised text "
            "(lower case, look-alikes folded, invisible characters removed).",
            "category": "Shown to the author when the rule refuses a text (the pattern never is).",
        }

    def clean(self):
        cleaned = super().clean()
        if "pattern" in cleaned and "kind" in cleaned:
            try:
                cleaned["pattern"] = rules.pattern_clean(pattern=cleaned["pattern"], kind=cleaned["kind"])
            except ValidationError as error:
                self.add_error("pattern", error.message_dict["pattern"])
        return cleaned


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV, UTF-8, with a header line: " + ",".join(rules.CSV_COLUMNS)
                           + ". Only `pattern` is required. Existing rules (same pattern and kind) are updated.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(f"At most {MAX_IMPORT_BYTES // 1024} kB.")
        return upload


class TryForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 5, "cols": 80}), max_length=20_000, strip=False)
    where = forms.ChoiceField(
        choices=[("message", "A message, topic or reply"), ("profile", "A profile field or project name"),
                 ("username", "A username")],
        initial="message",
    )


@admin.register(ProfanityPattern)
class ProfanityPatternAdmin(admin.ModelAdmin):
    form = ProfanityPatternForm
    list_display = ("pattern", "kind", "action", "severity", "category", "is_active", "updated_at")
    list_filter = ("action", "kind", "severity", "is_active", "category")
    search_fields = ("pattern", "category")
    readonly_fields = ("created_by", "created_at", "updated_at")
    actions = ["export_csv", "activate", "deactivate"]
    change_list_template = "admin/moderation/profanitypattern/change_list.html"

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        data = {name: form.cleaned_data[name] for name in rules.PATTERN_FIELDS if name in form.cleaned_data}
        rules.pattern_save(actor=request.user, pattern=obj, data=data)

    def delete_model(self, request, obj):
        rules.pattern_delete(actor=request.user, pattern=obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            rules.pattern_delete(actor=request.user, pattern=obj)

    @admin.action(description="Export the selected rules as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        return _csv_response(rules.patterns_export(queryset))

    @admin.action(description="Activate the selected rules", permissions=["change"])
    def activate(self, request, queryset):
        for rule in queryset:
            rules.pattern_save(actor=request.user, pattern=rule, data={"is_active": True})

    @admin.action(description="Deactivate the selected rules", permissions=["change"])
    def deactivate(self, request, queryset):
        for rule in queryset:
            rules.pattern_save(actor=request.user, pattern=rule, data={"is_active": False})

    # --- extra views ------------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="moderation_profanitypattern_import"),
            path("export/", wrap(self.export_view), name="moderation_profanitypattern_export"),
            path("test/", wrap(self.test_view), name="moderation_profanitypattern_test"),
            *super().get_urls(),
        ]

    def _context(self, request, title, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **extra}

    def import_view(self, request):
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        errors: list[str] = []
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            created, updated, errors = rules.pattern_import(actor=request.user, data=form.cleaned_data["file"].read())
            if not errors:
                self.message_user(request, f"Imported: {created} new rules, {updated} updated.", messages.SUCCESS)
                return redirect(reverse("admin:moderation_profanitypattern_changelist"))
        return TemplateResponse(request, "admin/moderation/profanitypattern/import.html",
                                self._context(request, "Import rules from CSV", form=form, errors=errors))

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return _csv_response(rules.patterns_export())

    def test_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = TryForm(request.POST or None)
        result = None
        if request.method == "POST" and form.is_valid():
            where = form.cleaned_data["where"]
            field = {"message": "content", "profile": "bio", "username": "username"}[where]
            result = rules.rules_explain(form.cleaned_data["text"], field=field, surface=where,
                                         can_hide=where == "message")
            result["rows"] = [
                {"rule": m.rule, "text": m.text, "url": reverse("admin:moderation_profanitypattern_change", args=[m.rule.id])}
                for m in result["matches"]
            ]
        return TemplateResponse(request, "admin/moderation/profanitypattern/test.html",
                                self._context(request, "Test this text against the rules", form=form, result=result))


def _csv_response(text: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="content-rules.csv"'
    return response
