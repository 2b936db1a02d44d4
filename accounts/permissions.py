"""Who may do what with accounts, profiles and API keys (the seed's profiles policies).

Profiles are public to read; only their owner changes them. API keys are their owner's alone.
Answered everywhere through ``user.has_perm(<name>, obj)``.
"""

import rules


@rules.predicate
def is_profile_owner(user, profile) -> bool:
    return profile is not None and user.is_authenticated and profile.user_id == user.pk


@rules.predicate
def is_key_owner(user, api_key) -> bool:
    return api_key is not None and user.is_authenticated and api_key.user_id == user.pk


rules.add_perm("accounts.view_profile", rules.always_allow)
rules.add_perm("accounts.change_profile", is_profile_owner)
rules.add_perm("accounts.view_apikey", is_key_owner)
rules.add_perm("accounts.add_apikey", rules.is_authenticated & rules.is_active)
rules.add_perm("accounts.delete_apikey", is_key_owner)
