"""The staff roles, as groups of permissions (created and kept up to date by migrations).

Moderators work the queue, content, rules, sanctions and bot blocks, and read users and the audit log;
they cannot change billing, users' accounts (emails, passwords, access) or API keys. Billing admins see
and manage dj-stripe's models. A staff user needs ``is_staff`` and a group; superusers have everything.
"""

MODERATORS = "Moderators"
BILLING_ADMINS = "Billing admins"

MODERATOR_PERMISSIONS = {
    "moderation": [
        "view_moderationitem", "change_moderationitem",
        "view_moderationdecision",
        "view_sanction", "add_sanction", "change_sanction",
        "view_botdetection", "change_botdetection",
        "view_allowlistentry", "add_allowlistentry", "change_allowlistentry", "delete_allowlistentry",
        "view_profanitypattern", "add_profanitypattern", "change_profanitypattern", "delete_profanitypattern",
        "view_auditlog",
    ],
    "community": [
        "view_channel",
        "view_message", "change_message",
        "view_forumpost", "change_forumpost",
        "view_forumreply", "change_forumreply",
        "view_reaction", "view_attachment",
    ],
    "accounts": ["view_user", "view_profile"],
}

BILLING_APPS = ("djstripe", "billing")


def sync_groups(apps) -> None:
    """Creates the groups and sets their permissions exactly (run from a migration, with its ``apps``)."""
    from django.contrib.auth.management import create_permissions

    for config in apps.get_app_configs():  # permissions are otherwise created only after all migrations
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    groups_set(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def groups_set(Group, Permission) -> None:  # noqa: N803 (model classes, historical or real)
    """The groups and their permissions, given the models: a migration's historical ones, or the real ones
    (the test suite restores the groups after a test that empties every table)."""
    from django.db.models import Q

    moderators, _ = Group.objects.get_or_create(name=MODERATORS)
    wanted = Q()
    for app, codenames in MODERATOR_PERMISSIONS.items():
        wanted |= Q(content_type__app_label=app, codename__in=codenames)
    # Those that exist at this point of the migrations: a later change to the lists adds a migration
    # that calls this again.
    moderators.permissions.set(Permission.objects.filter(wanted))
    billing, _ = Group.objects.get_or_create(name=BILLING_ADMINS)
    billing.permissions.set(Permission.objects.filter(content_type__app_label__in=BILLING_APPS))
