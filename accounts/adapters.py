"""allauth adapters: sign-up policy, its emails through the outbox, and the profile from GitHub/Google."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import PermissionDenied, ValidationError

from agentwise.mail import email_enqueue
from agentwise.net import client_ip

from .services import profile_fill_from_provider


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return getattr(settings, "ACCOUNT_ALLOW_SIGNUPS", True)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """As allauth renders it (same context), but queued in the outbox instead of sent in the request:
        a mail provider that is down must not turn a sign-up, reset or email change into a 500."""
        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request)}
        ctx.update(context)
        message = self.render_mail(template_prefix, email, ctx)
        email_enqueue(message, kind=template_prefix)

    def clean_username(self, username, shallow=False):
        """allauth's checks, then the content rules: a handle a rule refuses is refused at sign-up (and by
        any other allauth path that picks a username)."""
        from moderation.gate import screen_text

        username = super().clean_username(username, shallow=shallow)
        try:
            screen_text(actor=None, text=username, field="username", surface="username")
        except ValidationError as error:
            raise ValidationError(error.message_dict["username"]) from None
        return username

    def save_user(self, request, user, form, commit=True):
        """Queues a warn rule's flag on the new handle once the user exists."""
        from moderation.gate import flag_after_save, screen_text

        user = super().save_user(request, user, form, commit=commit)
        if commit and user.pk:
            screened = screen_text(actor=user, text=user.username, field="username", surface="username")
            flag_after_save(screened=screened, content_type="profile", content_id=user.pk, author=user)
        return user

    def pre_login(self, request, user, **kwargs):
        """A suspended account cannot sign in (any method: password, code, social): it is told why and until when."""
        from moderation.sanctions import suspension_for, suspension_refusal

        entry = suspension_for(user.pk)
        if entry is not None:
            from allauth.account.internal.stagekit import clear_login
            from django.shortcuts import render

            clear_login(request)
            return render(request, "errors/refusal.html", {"refusal": suspension_refusal(entry)}, status=403)
        return super().pre_login(request, user, **kwargs)

    def get_client_ip(self, request):
        """The address per-IP limits and session records key on, as everything else resolves it.

        allauth's own reading of ALLAUTH_TRUSTED_PROXY_COUNT answers a 500 (ImproperlyConfigured) when a
        request carries fewer X-Forwarded-For entries than trusted proxies; this one does not.
        """
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form=form)
        profile_fill_from_provider(
            user=user, provider=sociallogin.account.provider, extra_data=sociallogin.account.extra_data or {}
        )
        return user
