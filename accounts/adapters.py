"""allauth adapters: sign-up policy and filling the profile from GitHub/Google."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings

from .services import profile_fill_from_provider


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request):
        return getattr(settings, "ACCOUNT_ALLOW_SIGNUPS", True)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form=form)
        profile_fill_from_provider(
            user=user, provider=sociallogin.account.provider, extra_data=sociallogin.account.extra_data or {}
        )
        return user
