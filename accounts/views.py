"""Account pages: public profiles, settings, API keys and the security overview."""

from datetime import timedelta

from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import ApiKeyForm, ProfileForm
from .models import ApiKey, Profile


def profile_detail(request, username):
    try:
        profile = selectors.profile_get_public(username=username)
    except Profile.DoesNotExist:
        raise Http404("No such user.") from None
    can_edit = request.user.has_perm("accounts.change_profile", profile)
    return render(request, "accounts/profile_detail.html", {"profile": profile, "can_edit": can_edit})


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
        services.profile_update(actor=request.user, profile=profile, data=data)
        messages.success(request, "Profile saved.")
        return redirect("account_settings")
    return render(request, "accounts/settings_profile.html", {"form": form, "section": "profile"})


@login_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data.get("expires_in_days")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            api_key, new_key = services.api_key_create(
                user=request.user, name=form.cleaned_data["name"], expires_at=expires_at
            )
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
    api_key = get_object_or_404(ApiKey, pk=key_id, user=request.user)
    try:
        services.api_key_revoke(actor=request.user, api_key=api_key)
    except PermissionDenied:
        raise Http404 from None
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


@login_required
def notifications(request):
    if request.method == "POST":
        services.notifications_mark_read(user=request.user)
        return redirect("account_notifications")
    items = selectors.notification_list_for(user=request.user)[:100]
    return render(request, "accounts/notifications.html", {"notifications": items, "section": "notifications"})
