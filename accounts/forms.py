"""Forms for the account settings pages."""

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from .models import Profile
from .notification_kinds import CHOOSABLE_CHOICES, KINDS
from .validators import UsernameValidator

User = get_user_model()


class HoneypotInput(forms.TextInput):
    """A text input people never see or reach (hidden by the ``hp`` class, out of the tab order): bots
    that fill every input fill it. Rendered with the hidden fields, so it has no visible label."""

    is_hidden = True

    def __init__(self):
        super().__init__(attrs={"class": "hp", "tabindex": "-1", "autocomplete": "off", "aria-hidden": "true"})


class SignupForm(AllauthSignupForm):
    """allauth's sign-up with a honeypot field; the view refuses a filled one (moderation.bots)."""

    website = forms.CharField(required=False, label="Leave this empty", widget=HoneypotInput())


class ProfileForm(forms.ModelForm):
    username = forms.CharField(max_length=50, validators=[UsernameValidator()], help_text=UsernameValidator.message)

    class Meta:
        model = Profile
        fields = [
            "full_name",
            "avatar",
            "avatar_url",
            "bio",
            "company",
            "location",
            "website",
            "github_username",
            "twitter_handle",
        ]
        widgets = {"bio": forms.Textarea(attrs={"rows": 4}), "avatar": forms.ClearableFileInput}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].initial = self.instance.user.username
        self.order_fields(["username", *self.Meta.fields])

    def clean_avatar(self):
        avatar = self.cleaned_data.get("avatar")
        if avatar and getattr(avatar, "size", 0) > settings.AVATAR_MAX_BYTES:
            raise ValidationError(f"Images must be at most {settings.AVATAR_MAX_BYTES // (1024 * 1024)} MB.")
        return avatar


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “laptop CLI”.")
    expires_in_days = forms.TypedChoiceField(
        choices=[("", "Never"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year")],
        coerce=int,
        empty_value=None,
        required=False,
        label="Expires",
    )


class NotificationPreferencesForm(forms.Form):
    """One in-app / digest choice per configurable kind of ``accounts.notification_kinds``."""

    def __init__(self, *args, deliveries: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        for key, kind in KINDS.items():
            if kind.configurable:
                self.fields[key] = forms.ChoiceField(
                    label=kind.label, choices=CHOOSABLE_CHOICES, initial=deliveries[key],
                    widget=forms.RadioSelect,
                )


class AccountDeleteForm(forms.Form):
    """The confirmation on ``/account/delete/``: nothing is deleted without the box ticked."""

    confirm = forms.BooleanField(
        label="I understand: my account, my projects that are not transferred, and my keys are deleted now, for good.",
        error_messages={"required": "Tick the box to confirm."},
    )
    remove_content = forms.BooleanField(
        required=False,
        label="Also remove what I wrote (chat messages, forum topics and replies): they become “deleted” tombstones.",
    )


class AccountDeleteAdminForm(forms.Form):
    """The admin action's intermediate page: staff say why (kept in the audit log)."""

    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000,
                             help_text="Kept in the audit log with the deletion (who asked, the ticket).")
    remove_content = forms.BooleanField(required=False, label="Also remove what they wrote (tombstones)")
