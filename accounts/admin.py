from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse

from agentwise.errors import Refusal

from . import deletion, services
from .credentials import Credential
from .forms import AccountDeleteAdminForm
from .models import (
    ApiKey,
    DataExport,
    Notification,
    NotificationDigest,
    NotificationPreference,
    Profile,
    User,
    UserMute,
)


def _hold_plan_change(form) -> str | None:
    """A changed plan on an existing profile's form: the form keeps the old plan and the new one is
    returned, for ``profile_plan_change`` to apply and audit after the form saves."""
    profile = form.instance
    if profile.pk is None or "subscription_tier" not in form.changed_data:
        return None
    new_tier = profile.subscription_tier
    profile.subscription_tier = form.initial["subscription_tier"]
    return new_tier


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fk_name = "user"
    extra = 0
    fields = [
        ("full_name", "company", "location"),
        ("avatar", "avatar_url"),
        "bio",
        ("website", "github_username", "twitter_handle"),
        ("subscription_tier", "subscription_status", "stripe_customer_id"),
        "subscription_grace_until",
        "metadata",
    ]
    readonly_fields = ["subscription_grace_until"]  # Stripe's webhooks set it (billing.services)


class AgentwiseUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "username")


class AgentwiseUserChangeForm(UserChangeForm):
    """is_active and is_staff are read-only here (see UserAdmin's actions)."""

    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = AgentwiseUserChangeForm
    add_form = AgentwiseUserCreationForm
    inlines = [ProfileInline]
    list_display = ["email", "username", "full_name", "tier", "is_staff", "is_active", "date_joined", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "profile__subscription_tier", "date_joined"]
    search_fields = ["email", "username", "profile__full_name", "profile__company", "profile__github_username"]
    ordering = ["-date_joined"]
    list_select_related = ["profile"]
    # Access is changed through actions that call accounts.services.user_access_update, so the user's
    # open sockets close and their sessions stop working at once; a form save would do neither.
    readonly_fields = ["date_joined", "last_login", "is_active", "is_staff"]
    actions = ["deactivate", "reactivate", "grant_staff", "remove_staff", "delete_accounts"]
    fieldsets = (
        (None, {"fields": ("email", "username", "password")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "username", "password1", "password2")}),)

    def save_formset(self, request, form, formset, change):
        plans = [(inline.instance, tier) for inline in formset.forms
                 if inline.has_changed() and (tier := _hold_plan_change(inline)) is not None]
        super().save_formset(request, form, formset, change)
        for profile, tier in plans:
            services.profile_plan_change(actor=request.user, profile=profile, tier=tier)

    def get_readonly_fields(self, request, obj=None):
        # On the add form, is_active/is_staff keep their defaults (active, not staff).
        return self.readonly_fields if obj is not None else ["date_joined", "last_login"]

    def _access(self, request, queryset, **change):
        done = 0
        for user in queryset:
            try:
                services.user_access_update(actor=request.user, user=user, **change)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(request, f"{user}: {' '.join(getattr(error, 'messages', [str(error)]))}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"Updated {done} account(s).", messages.SUCCESS)

    @admin.action(permissions=["change"], description="Deactivate (signs them out everywhere and closes their sockets)")
    def deactivate(self, request, queryset):
        self._access(request, queryset, is_active=False)

    @admin.action(permissions=["change"], description="Reactivate")
    def reactivate(self, request, queryset):
        self._access(request, queryset, is_active=True)

    @admin.action(permissions=["change"], description="Grant staff status")
    def grant_staff(self, request, queryset):
        self._access(request, queryset, is_staff=True)

    @admin.action(permissions=["change"], description="Remove staff status (closes their sockets)")
    def remove_staff(self, request, queryset):
        self._access(request, queryset, is_staff=False)

    def has_delete_permission(self, request, obj=None):
        return False  # only through "Delete accounts", which calls accounts.deletion.account_delete

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_accounts_permission(self, request):
        return request.user.is_staff and request.user.has_perm("accounts.change_user")

    @admin.action(permissions=["delete_accounts"], description="Delete accounts (as the user can: asks why, audited)")
    def delete_accounts(self, request, queryset):
        """An intermediate page asks for the reason, then deletes each account through the same service
        as the user's own page and the API."""
        users = list(queryset)
        form = AccountDeleteAdminForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            done = 0
            for user in users:
                try:
                    deletion.account_delete(
                        actor=request.user, user=user, remove_content=form.cleaned_data["remove_content"],
                        reason=form.cleaned_data["reason"], credential=Credential.from_request(request),
                    )
                except (Refusal, ValidationError, PermissionDenied) as error:
                    self.message_user(request, f"{user}: {getattr(error, 'message', None) or error}", messages.ERROR)
                else:
                    done += 1
            self.message_user(request, f"Deleted {done} account(s).", messages.SUCCESS)
            return None
        context = {**self.admin_site.each_context(request), "users": users, "form": form, "opts": self.model._meta,
                   "action": "delete_accounts", "title": "Delete accounts"}
        return TemplateResponse(request, "admin/accounts/user/delete_accounts.html", context)

    @admin.display(description="Name", ordering="profile__full_name")
    def full_name(self, obj):
        return obj.profile.full_name

    @admin.display(description="Plan", ordering="profile__subscription_tier")
    def tier(self, obj):
        return obj.profile.get_subscription_tier_display()


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "full_name", "company", "subscription_tier", "subscription_status", "created_at"]
    list_filter = ["subscription_tier", "subscription_status", "created_at"]
    search_fields = ["user__username", "user__email", "full_name", "company", "github_username", "stripe_customer_id"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]
    readonly_fields = ["created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        tier = _hold_plan_change(form)
        super().save_model(request, obj, form, change)
        if tier is not None:
            services.profile_plan_change(actor=request.user, profile=obj, tier=tier)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "state", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["created_at", "revoked_at", "expires_at"]
    search_fields = ["name", "prefix", "user__username", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # keys are minted by their owner only: the secret must go to them, not to staff

    @admin.action(permissions=["change"], description="Revoke selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset.filter(revoked_at__isnull=True):
            services.api_key_revoke(actor=request.user, api_key=api_key)
        self.message_user(request, "Revoked.", messages.SUCCESS)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "title", "created_at", "read_at", "emailed_at", "digested_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["user__username", "title"]
    list_select_related = ["user"]
    raw_id_fields = ["user"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows their owners manage from their settings (or the digest task writes): staff look, never edit."""

    list_select_related = ["user"]
    raw_id_fields = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyAdmin):
    list_display = ["user", "kind", "delivery", "updated_at"]
    list_filter = ["kind", "delivery"]
    search_fields = ["user__username"]


@admin.register(UserMute)
class UserMuteAdmin(ReadOnlyAdmin):
    list_display = ["user", "muted", "created_at"]
    list_select_related = ["user", "muted"]
    raw_id_fields = ["user", "muted"]
    search_fields = ["user__username", "muted__username"]


@admin.register(NotificationDigest)
class NotificationDigestAdmin(ReadOnlyAdmin):
    list_display = ["user", "day", "sent_at", "count"]
    list_filter = ["day"]
    search_fields = ["user__username"]


@admin.register(DataExport)
class DataExportAdmin(ReadOnlyAdmin):
    """Read-only: the request, its progress and any error, for support. The file is never served here."""

    list_display = ["user", "status", "requested_at", "finished_at", "expires_at", "rows_written", "file_size"]
    list_filter = ["status"]
    search_fields = ["user__username", "user__email"]
    exclude = ["file_path"]

    def has_delete_permission(self, request, obj=None):
        return False  # the tidy task removes the file at expiry; a deleted row would leave it behind
