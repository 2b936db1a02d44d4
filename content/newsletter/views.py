"""Newsletter pages: subscribe, confirm, unsubscribe, preferences, and the account settings toggle.

Links in emails are signed (``tokens``) and need no sign-in. A GET of a link only shows a page with a
button, because mail scanners follow links; the POST acts. The unsubscribe POST is also RFC 8058's
one-click POST, sent by mail providers without cookies or a CSRF token: the signed token is its
authorisation, so it is exempt from CSRF (forging it would need the token).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.forms import HoneypotInput
from agentwise import ratelimits
from agentwise.net import client_ip
from content.models import Subscriber, SubscriberSource, SubscriberStatus
from moderation.bots import HONEYPOT_FIELD, honeypot_check

from . import selectors, services, tokens


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email")
    # A field people never see: a filled one is refused and counts heavily against the address
    # (moderation.bots.honeypot_check).
    website = forms.CharField(required=False, widget=HoneypotInput())


class ChangeEmailForm(forms.Form):
    email = forms.EmailField(max_length=254, label="New address")


def subscribe_throttle(request) -> None:
    """Sign-ups per client address (429 beyond it), for the page and the API alike."""
    ratelimits.rate_limit_hit(
        "newsletter.subscribe",
        client_ip(request) or "unknown",
        message="Too many sign-ups from here: try again later.",
    )


@never_cache
@require_http_methods(["GET", "POST"])
def subscribe_page(request):
    form = SubscribeForm(request.POST or None, initial={"email": request.GET.get("email", "")[:254]})
    if request.method == "POST":
        honeypot_check(request, request.POST.get(HONEYPOT_FIELD))
    if request.method == "POST" and form.is_valid():
        subscribe_throttle(request)
        try:
            services.subscriber_subscribe(
                email=form.cleaned_data["email"],
                source=SubscriberSource.FORM,
                user=request.user if request.user.is_authenticated else None,
            )
        except ValidationError as error:
            form.add_error("email", error.message_dict.get("email", error.messages))
            return render(request, "content/newsletter/subscribe.html", {"form": form}, status=400)
        return redirect("newsletter_check_inbox")
    status = 400 if request.method == "POST" else 200
    return render(request, "content/newsletter/subscribe.html", {"form": form}, status=status)


def check_inbox(request):
    return render(request, "content/newsletter/check_inbox.html")


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    claim = tokens.read_confirm_token(token)
    if request.method == "GET":
        return render(request, "content/newsletter/confirm.html", {"email": claim.email, "token": token})
    try:
        subscriber = services.subscriber_confirm(token=token)
    except ValidationError as error:
        context = {"email": claim.email, "token": token, "error": " ".join(error.messages)}
        return render(request, "content/newsletter/confirm.html", context, status=409)
    return render(request, "content/newsletter/confirmed.html", {"subscriber": subscriber})


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    claim = tokens.read_manage_token(token)
    subscriber = Subscriber.objects.filter(pk=claim.subscriber_id).first()
    if subscriber is None:
        return render(request, "content/newsletter/unsubscribed.html", {"subscriber": None, "token": token})
    if request.method == "GET":
        return render(
            request, "content/newsletter/unsubscribe.html", {"subscriber": subscriber, "token": token}
        )
    subscriber = services.subscriber_unsubscribe(
        subscriber_id=claim.subscriber_id, campaign_id=claim.campaign_id
    )
    return render(request, "content/newsletter/unsubscribed.html", {"subscriber": subscriber, "token": token})


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token: str):
    claim = tokens.read_manage_token(token)
    subscriber = Subscriber.objects.filter(pk=claim.subscriber_id).first()
    if subscriber is None:
        return render(request, "content/newsletter/unsubscribed.html", {"subscriber": None, "token": token})
    form = ChangeEmailForm()
    notice = ""
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "unsubscribe":
            subscriber = services.subscriber_unsubscribe(
                subscriber_id=subscriber.pk, campaign_id=claim.campaign_id
            )
            notice = "You are unsubscribed. Nothing more will be sent to this address."
        elif action == "resubscribe":
            subscriber = services.subscriber_resubscribe(subscriber_id=subscriber.pk)
            notice = (
                "Welcome back: you are subscribed again."
                if subscriber.status == SubscriberStatus.ACTIVE
                else "Check your inbox: we sent a link to confirm."
            )
        elif action == "change_email":
            form = ChangeEmailForm(request.POST)
            if form.is_valid():
                try:
                    services.subscriber_change_email(
                        subscriber_id=subscriber.pk, email=form.cleaned_data["email"]
                    )
                    notice = (
                        "Check the new address's inbox: the change takes effect once it is confirmed there."
                    )
                    form = ChangeEmailForm()
                except ValidationError as error:
                    form.add_error("email", error.message_dict.get("email", error.messages))
            if form.errors:
                status = 400
        else:
            status = 400
            notice = "Unknown action."
    context = {"subscriber": subscriber, "form": form, "notice": notice, "token": token}
    return render(request, "content/newsletter/preferences.html", context, status=status)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def account_newsletter(request):
    """The account settings' toggle: a verified account email is subscribed at once."""
    if request.method == "POST":
        services.subscriber_set_for_account(
            user=request.user, subscribed=request.POST.get("subscribed") == "on"
        )
        return redirect("account_newsletter")
    subscriber = selectors.subscriber_for_user(request.user)
    return render(
        request, "content/newsletter/account.html", {"subscriber": subscriber, "section": "newsletter"}
    )
