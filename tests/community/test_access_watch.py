"""The per-process safety net reads every socket's access in a few queries, and agrees with the per-socket
answer (``credential_user``, ``community.view_channel``) it stands in for."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.credentials import SESSION, Credential, credential_user, credentials_still_valid
from accounts.models import ApiKey
from agentwise.access import can
from community.models import Channel, ChannelMember
from community.selectors import channels_lost
from tests.factories import StaffFactory, UserFactory, make_api_key

pytestmark = pytest.mark.django_db


def session_of(user) -> Credential:
    client = Client()
    client.force_login(user)
    return Credential(kind=SESSION, id=client.session.session_key)


def test_bulk_credential_check_agrees_with_the_single_one(django_assert_max_num_queries):
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    live_key = Credential.for_api_key(make_api_key(alice)[0])
    revoked = make_api_key(alice)[0]
    ApiKey.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    expired = make_api_key(alice)[0]
    ApiKey.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    live_session, changed, gone = session_of(bob), session_of(carol), session_of(bob)
    carol.set_password("another-long-passphrase")  # invalidates carol's existing sessions
    carol.save()
    from importlib import import_module

    from django.conf import settings

    import_module(settings.SESSION_ENGINE).SessionStore(gone.id).delete()  # as a sign-out does (cache and database)
    deactivated_user = UserFactory()
    deactivated = Credential.for_api_key(make_api_key(deactivated_user)[0])
    deactivated_user.is_active = False
    deactivated_user.save()

    credentials = [live_key, Credential.for_api_key(revoked), Credential.for_api_key(expired), live_session, changed,
                   gone, deactivated]
    with django_assert_max_num_queries(3):
        valid = credentials_still_valid(credentials)
    assert set(valid) == {live_key, live_session}
    for credential in credentials:
        single = credential_user(credential)
        assert (single is not None) == (credential in valid)
        if single is not None:
            assert valid[credential] == (str(single.pk), single.is_staff)


def test_bulk_channel_check_asks_the_one_rule(django_assert_max_num_queries):
    member, outsider, moderator = UserFactory(), UserFactory(), StaffFactory()
    public = Channel.objects.create(name="general")
    private = Channel.objects.create(name="secret", is_private=True)
    ChannelMember.objects.create(channel=private, user=member)
    joins = [(str(u.pk), [str(public.pk), str(private.pk)]) for u in (member, outsider, moderator)]
    joins.append((str(member.pk), ["00000000-0000-0000-0000-000000000000"]))  # a channel since deleted
    with django_assert_max_num_queries(3):
        lost = channels_lost(joins=joins)
    assert lost == [set(), {str(private.pk)}, set(), {"00000000-0000-0000-0000-000000000000"}]
    for user in (member, outsider, moderator):
        assert can(user, "community.view_channel", private) is (user is not outsider)
