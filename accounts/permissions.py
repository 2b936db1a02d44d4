"""Who may do what with accounts, profiles and API keys (the seed's profiles policies).

Profiles are public to read; only their owner changes them. API keys are their owner's alone: a key
is minted only from a browser session signed in within the last few minutes (an API key cannot
mint more keys, so a leaked key cannot outlive its revocation), and revoked by its owner or staff.
An export of your data ("your data") is requested and downloaded only from a signed-in browser session,
by its owner alone. Asked through ``agentwise.access.can`` / ``require``.
"""

import rules

from agentwise.access import add_rules

from .credentials import CONSOLE, SESSION


@rules.predicate
def is_profile_owner(user, profile) -> bool:
    return profile is not None and user.is_authenticated and profile.user_id == user.pk


@rules.predicate
def is_key_owner(user, api_key) -> bool:
    return api_key is not None and user.is_authenticated and api_key.user_id == user.pk


@rules.predicate
def is_browser_or_console(user, credential) -> bool:
    return credential is not None and credential.kind in (SESSION, CONSOLE)


@rules.predicate
def is_browser(user, credential) -> bool:
    return credential is not None and credential.kind == SESSION


@rules.predicate
def is_export_owner(user, export) -> bool:
    return export is not None and user.is_authenticated and export.user_id == user.pk


@rules.predicate
def signed_in_recently(user, credential) -> bool:
    return credential is not None and credential.recently_signed_in


@rules.predicate
def reauthenticated_recently(user, credential) -> bool:
    return credential is not None and credential.recently_reauthenticated


@rules.predicate
def is_self(user, target) -> bool:
    return target is not None and user.is_authenticated and target.pk == user.pk


@rules.predicate
def may_delete_as_staff(user, target) -> bool:
    """Staff delete accounts from the admin; only a superuser deletes a superuser."""
    return target is not None and user.is_staff and (user.is_superuser or not target.is_superuser)


add_rules(
    {
        "accounts.view_profile": rules.always_allow,
        "accounts.change_profile": is_profile_owner,
        "accounts.view_apikey": is_key_owner,
        # Asked with the credential the request came with.
        "accounts.add_apikey": rules.is_authenticated & is_browser_or_console,
        "accounts.add_apikey_now": signed_in_recently,
        "accounts.delete_apikey": is_key_owner | rules.is_staff,
        "accounts.manage_user_access": rules.is_staff,
        "accounts.change_plan": rules.is_staff,
        "accounts.moderate_profile": rules.is_staff,  # clear a reported profile (moderation.reports)
        # "Your data": asked with the request's credential. A key (a script, a leaked secret) cannot
        # request or fetch everything the account holds; only the member in their browser can.
        "accounts.request_data_export": rules.is_authenticated & is_browser,
        "accounts.view_data_export": is_export_owner,  # no staff bypass: it holds the member's private data
        # Deleting an account (accounts.deletion): your own, from a browser session (asked with the
        # request's credential) re-authenticated within allauth's window; or staff, from the admin.
        "accounts.delete_account": is_self | may_delete_as_staff,
        "accounts.delete_own_account_via": rules.is_authenticated & is_browser_or_console,
        "accounts.delete_own_account_now": reauthenticated_recently,
    }
)
