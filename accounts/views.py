"""Account pages: public profiles, settings, API keys and the security overview."""

import uuid
from datetime import timedelta

from allauth.account import views as allauth_views
from allauth.account.adapter import get_adapter
from allauth.account.decorators import reauthentication_required
from allauth.core.exceptions import ReauthenticationRequired
from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from agentwise.access import can, get_visible
from agentwise.errors import Forbidden, Refusal
from agentwise.integrity import unique_violation

from . import deletion, selectors, services
from .credentials import Credential
from .forms import AccountDeleteForm, ApiKeyForm, NotificationPreferencesForm, ProfileForm
from .notification_kinds import KINDS


def profile_detail(request, username):
    profile = selectors.profile_get_public(username=username)
    can_edit = can(request.user, "accounts.change_profile", profile)
    can_mute = request.user.is_authenticated and request.user.pk != profile.user_id
    is_muted = can_mute and selectors.user_has_muted(user=request.user, muted=profile.user)
    return render(
        request, "accounts/profile_detail.html",
        {"profile": profile, "can_edit": can_edit, "can_mute": can_mute, "is_muted": is_muted},
    )


@login_required
@require_POST
def profile_mute(request, username, mute: bool):
    """The profile page's Mute / Unmute buttons (and Unmute in the notification settings: ``next=settings``)."""
    profile = selectors.profile_get_public(username=username)
    name = profile.user.username
    if mute:
        try:
            services.user_mute(actor=request.user, muted=profile.user)
        except ValidationError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, f"Muted @{name}: nothing they do will notify you.")
    else:
        services.user_unmute(actor=request.user, muted=profile.user)
        messages.success(request, f"Unmuted @{name}.")
    if request.POST.get("next") == "settings":
        return redirect("account_notification_settings")
    return redirect("profile_detail", username=name)


@login_required
def notification_settings(request):
    """``/account/notifications/settings/``: in-app only or also the daily digest, per kind; muted users."""
    deliveries = selectors.notification_deliveries(user=request.user)
    form = NotificationPreferencesForm(request.POST or None, deliveries=deliveries)
    if request.method == "POST" and form.is_valid():
        services.notification_preferences_set(user=request.user, choices=form.cleaned_data)
        messages.success(request, "Notification settings saved.")
        return redirect("account_notification_settings")
    fixed = [kind for kind in KINDS.values() if not kind.configurable]
    mutes = selectors.mute_list_for(user=request.user)
    return render(
        request, "accounts/settings_notifications.html",
        {"form": form, "fixed": fixed, "mutes": mutes, "section": "notification_settings",
         "digest_hour": settings.NOTIFICATION_DIGEST_HOUR},
    )


@login_required
def settings_profile(request):
    profile = request.user.profile
    form = ProfileForm(request.POST or None, request.FILES or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if data.get("avatar") is False:  # "clear" ticked
            data["avatar"] = ""
        elif not isinstance(data.get("avatar"), UploadedFile):
            data.pop("avatar", None)  # unchanged
        # form.is_valid() applied the values to the instance; reload so the service sees the stored state.
        profile.refresh_from_db()
        try:
            services.profile_update(actor=request.user, profile=profile, data=data)
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Profile saved.")
            return redirect("account_settings")
    return render(request, "accounts/settings_profile.html", {"form": form, "section": "profile"})


class SignupView(allauth_views.SignupView):
    """allauth's sign-up, answering a race as it answers the check that was raced.

    Eight simultaneous sign-ups of one address (a double click, a retried POST, other letter case)
    all pass the form's uniqueness check; the database lets one through. The others get what a later
    sign-up gets: for the email, allauth's enumeration-safe "check your inbox" (and an "account
    already exists" email), for the username the form's "taken" error — never a 500.
    """

    def post(self, request, *args, **kwargs):
        from moderation.bots import HONEYPOT_FIELD, honeypot_check

        honeypot_check(request, request.POST.get(HONEYPOT_FIELD))
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            with transaction.atomic():
                return super().form_valid(form)
        except IntegrityError as error:
            conflict = unique_violation(error)
            if conflict is None:
                raise
            field = next(iter(conflict.message_dict))
            if field == "email":
                form.account_already_exists = True
                return super().form_valid(form)
            form.add_error(field if field in form.fields else None, get_adapter().error_messages.get(
                f"{field}_taken", conflict.message_dict[field][0]))
            return self.form_invalid(form)


signup = SignupView.as_view()


@login_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data.get("expires_in_days")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            api_key, new_key = services.api_key_create(
                user=request.user, credential=Credential.from_request(request), name=form.cleaned_data["name"],
                expires_at=expires_at,
            )
        except Forbidden as refusal:
            if refusal.code == "reauthentication_required":
                raise ReauthenticationRequired() from None  # allauth asks for the password, then resumes this POST
            raise
        except ValidationError as error:
            form.add_error(None, error.messages[0] if error.messages else "Invalid key.")
        else:
            messages.success(request, f"Created “{api_key.name}”. Copy the key now: it will not be shown again.")
            form = ApiKeyForm()
    keys = selectors.api_key_list_for(user=request.user)
    return render(
        request,
        "accounts/settings_api_keys.html",
        {"form": form, "keys": keys, "new_key": new_key, "section": "api_keys"},
    )


@login_required
@require_POST
def api_key_revoke(request, key_id):
    api_key = get_visible(selectors.api_key_list_for(user=request.user), pk=key_id)
    services.api_key_revoke(actor=request.user, api_key=api_key)
    messages.success(request, f"Revoked “{api_key.name}”.")
    return redirect("account_api_keys")


@login_required
def security(request):
    user = request.user
    sessions = list(UserSession.objects.purge_and_list(user))
    current_key = request.session.session_key
    context = {
        "section": "security",
        "identities": SocialAccount.objects.filter(user=user).order_by("provider"),
        "sessions": sessions,
        "current_session_key": current_key,
        "authenticators": {a.type: a for a in Authenticator.objects.filter(user=user)},
        "has_password": user.has_usable_password(),
    }
    return render(request, "accounts/settings_security.html", context)


NOTIFICATIONS_PER_PAGE = 25


@login_required
def notifications(request):
    """``/notifications/``: every notification, newest first, paginated; POST marks one read (``id``) or
    all of them."""
    if request.method == "POST":
        one = request.POST.get("id")
        if one:
            try:
                ids = [uuid.UUID(one)]
            except ValueError:
                ids = []
            services.notifications_mark_read(user=request.user, notification_ids=ids)
        else:
            services.notifications_mark_read(user=request.user)
        page_number = request.POST.get("page", "")
        return redirect(f"{reverse('notifications')}?page={page_number}" if page_number.isdigit() else "notifications")
    paginator = Paginator(selectors.notification_list_for(user=request.user), NOTIFICATIONS_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request, "accounts/notifications.html", {"notifications": page.object_list, "page": page, "section": "notifications"}
    )


def notifications_moved(request):
    return redirect("notifications", permanent=True)


@login_required
def data_export(request):
    """``/account/export/``: request an export of your data and follow it (pending, running, ready, failed)."""
    if request.method == "POST":
        try:
            services.data_export_request(user=request.user, credential=Credential.from_request(request))
        except Refusal as refusal:
            if refusal.status_code != 429:
                raise
            messages.error(request, refusal.message)
        else:
            messages.success(request, "Your export is being prepared. We will email you a download link when it is ready.")
        return redirect("account_export")
    export = selectors.data_export_latest(user=request.user)
    download_url = services.data_export_download_url(export) or ""
    return render(request, "accounts/settings_export.html", {
        "section": "export",
        "export": export,
        "download_url": download_url,
        "next_allowed_at": services.data_export_next_allowed_at(user=request.user),
        "link_days": settings.DATA_EXPORT_LINK_DAYS,
        "interval_hours": settings.DATA_EXPORT_INTERVAL_HOURS,
    })


@login_required
@require_GET
def data_export_download(request, token):
    """The emailed link: the zip, to the signed-in member it belongs to (404 for anyone else, 410 once expired)."""
    from django.core.files.storage import default_storage

    export = selectors.data_export_get_for_download(user=request.user, token=token)
    try:
        handle = default_storage.open(export.file_path, "rb")
    except FileNotFoundError:
        raise selectors.LinkExpired() from None
    response = FileResponse(
        handle, as_attachment=True, content_type="application/zip",
        filename=f"agentwise-data-{export.requested_at:%Y-%m-%d}.zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@reauthentication_required
def account_delete(request):
    """``/account/delete/``: after allauth asks for the password again, says what will happen, and a
    confirmed POST deletes the account at once (accounts.deletion.account_delete)."""
    from billing.services import BillingUnavailable

    form = AccountDeleteForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            deletion.account_delete(
                actor=request.user, user=request.user, remove_content=form.cleaned_data["remove_content"],
                credential=Credential.from_request(request),
            )
        except Forbidden as refusal:
            if refusal.code == "reauthentication_required":
                raise ReauthenticationRequired() from None
            raise
        except BillingUnavailable as refusal:
            form.add_error(None, f"{refusal.message} Your account was not deleted.")
            status = 503
        else:
            deletion.request_signed_out(request)
            return render(request, "accounts/deleted.html")
    preview = deletion.deletion_preview(user=request.user)
    return render(request, "accounts/settings_delete.html", {"form": form, "preview": preview, "section": "delete"},
                  status=status)

