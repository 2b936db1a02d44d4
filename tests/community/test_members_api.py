"""Private-channel members over the API: staff manage them; members may list them; to anyone else the
channel does not exist."""

import pytest
from rest_framework.test import APIClient

from community.models import ChannelMember

pytestmark = pytest.mark.django_db


def as_user(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    "who, listed, added, removed",
    [
        ("anonymous", 401, 401, 401),
        ("alice", 404, 404, 404),  # not a member: the private channel does not exist for her
        ("member", 200, 403, 403),
        ("staff", 200, 201, 204),
    ],
)
def test_who_may_list_add_and_remove_members(people, channels_, who, listed, added, removed):
    private = channels_["private"]
    client = as_user(None if who == "anonymous" else people[who])
    base = f"/api/community/channels/{private.pk}/members/"
    response = client.get(base)
    assert response.status_code == listed
    if listed == 200:
        assert [m["user"]["username"] for m in response.json()["results"]] == ["member"]
    assert client.post(base, {"username": "bob"}, format="json").status_code == added
    assert client.delete(f"{base}{people['member'].pk}/").status_code == removed
    assert ChannelMember.objects.filter(channel=private, user=people["bob"]).exists() is (added == 201)
    assert ChannelMember.objects.filter(channel=private, user=people["member"]).exists() is (removed != 204)


def test_adding_an_unknown_handle_is_a_field_error(people, channels_):
    response = as_user(people["staff"]).post(
        f"/api/community/channels/{channels_['private'].pk}/members/", {"username": "ghost"}, format="json"
    )
    assert response.status_code == 400 and "username" in response.json()["error"]["fields"]


def test_removing_someone_who_is_not_a_member_is_404(people, channels_):
    response = as_user(people["staff"]).delete(f"/api/community/channels/{channels_['private'].pk}/members/{people['bob'].pk}/")
    assert response.status_code == 404
