"""A race is answered like the check it raced: eight simultaneous requests past a uniqueness check get
what a later request gets — never a 500 from the database's unique constraint. PostgreSQL only:
SQLite serialises writers, so nothing races there (CI runs these on PostgreSQL, never skipped)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from community import services as community_services
from community.models import Channel, ChannelMember, Message, MessageEdit, Reaction
from projects import services as project_services
from projects.models import AgentExecution, Budget, ProjectCollaborator
from tests.factories import StaffFactory, UserFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="races need concurrent writers (PostgreSQL; CI runs it)"),
]

RACERS = 8


def race(function, arguments):
    """Runs ``function(argument)`` for each argument at the same instant, each on its own connection."""
    barrier = threading.Barrier(len(arguments))

    def run(argument):
        from django.db import connections

        try:
            barrier.wait(timeout=10)
            return function(argument)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(arguments)) as pool:
        return list(pool.map(run, arguments))


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_simultaneous_signups_of_one_address_make_one_account_and_no_errors(reference_data):
    def sign_up(index):
        casing = "Racer@Example.com" if index % 2 else "racer@example.COM"
        return Client().post("/account/signup/", {
            "email": casing, "username": f"racer{index}", "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1",
        })

    responses = race(sign_up, range(RACERS))
    assert User.objects.filter(email__iexact="racer@example.com").count() == 1
    # Every one gets what a later sign-up of that address gets: "check your inbox" (allauth's
    # enumeration-safe answer), never a 500.
    assert sorted({r.status_code for r in responses}) == [302]
    assert {r["Location"] for r in responses} == {"/account/confirm-email/"}


def test_simultaneous_signups_of_one_username_make_one_account_and_field_errors(reference_data):
    def sign_up(index):
        return Client().post("/account/signup/", {
            "email": f"taker{index}@example.com", "username": "WantedName" if index % 2 else "wantedname",
            "password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1",
        })

    responses = race(sign_up, range(RACERS))
    assert User.objects.filter(username__iexact="wantedname").count() == 1
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (RACERS - 1) + [302]
    for response in responses:
        if response.status_code == 200:
            assert "username" in response.context["form"].errors


def test_simultaneous_username_changes(reference_data):
    users = [UserFactory() for _ in range(RACERS)]
    responses = race(lambda user: api(user).patch("/api/me/", {"username": "popular"}, format="json"), users)
    assert sorted(r.status_code for r in responses) == [200] + [400] * (RACERS - 1)
    for response in responses:
        if response.status_code == 400:
            assert response.json()["error"]["fields"] == {"username": ["This username is taken."]}


def test_simultaneous_invitations_of_one_person(reference_data):
    owner = UserFactory()
    owner.profile.subscription_tier = "pro"
    owner.profile.save()
    project = project_services.project_create(actor=owner, data={"name": "Race"})
    UserFactory(username="invitee")
    path = f"/api/projects/{project.pk}/collaborators/"
    responses = race(lambda _: api(owner).post(path, {"username": "invitee"}, format="json"), range(RACERS))
    assert sorted(r.status_code for r in responses) == [201] + [400] * (RACERS - 1)
    refused = next(r for r in responses if r.status_code == 400)
    assert refused.json()["error"]["fields"] == {"user": ["This person is already invited to this project."]}
    assert ProjectCollaborator.objects.filter(project=project).count() == 1
    by_email = race(lambda _: api(owner).post(path, {"email": "someone@example.com"}, format="json"), range(RACERS))
    assert {r.status_code for r in by_email} == {201} and len({r.json()["id"] for r in by_email}) == 1


def test_simultaneous_channel_member_additions(reference_data):
    moderator, member = StaffFactory(), UserFactory()
    channel = Channel.objects.create(name="private", is_private=True)
    race(lambda _: community_services.channel_member_add(actor=moderator, channel=channel, user=member), range(RACERS))
    assert ChannelMember.objects.filter(channel=channel, user=member).count() == 1


def test_simultaneous_reactions_of_one_person(reference_data):
    author, fan = UserFactory(), UserFactory()
    channel = Channel.objects.create(name="general")
    message = community_services.message_post(actor=author, channel=channel, content="react")
    path = f"/api/community/messages/{message.pk}/reactions/"
    responses = race(lambda _: api(fan).post(path, {"emoji": "🎉"}, format="json"), range(RACERS))
    assert {r.status_code for r in responses} == {200}
    assert Reaction.objects.filter(message=message, user=fan).count() in (0, 1)


def test_simultaneous_budgets_for_one_metric(reference_data):
    user = UserFactory()
    responses = race(lambda limit: api(user).post("/api/budgets/", {"metric": "tokens", "monthly_limit": limit}, format="json"),
                     list(range(1000, 1000 + RACERS)))
    assert {r.status_code for r in responses} == {201}
    assert Budget.objects.filter(user=user, metric="tokens").count() == 1


def test_simultaneous_retries_with_one_idempotency_key(reference_data):
    owner = UserFactory()
    project = project_services.project_create(actor=owner, data={"name": "Runs"})
    path = f"/api/projects/{project.pk}/executions/"
    body = {"agent_type": "codex", "status": "completed", "input_tokens": 10, "output_tokens": 5}
    responses = race(lambda _: api(owner).post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-1"), range(RACERS))
    assert sorted(r.status_code for r in responses) == [200] * (RACERS - 1) + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert AgentExecution.objects.filter(project=project).count() == 1


def test_an_edit_racing_a_delete_never_brings_the_content_back(reference_data):
    author = UserFactory()
    channel = Channel.objects.create(name="general")
    for attempt in range(5):
        message = community_services.message_post(actor=author, channel=channel, content=f"original {attempt}")

        def act(kind, message=message):
            fresh = Message.objects.select_related("channel", "user").get(pk=message.pk)
            try:
                if kind == "edit":
                    community_services.message_edit(actor=author, message=fresh, content="edited")
                else:
                    community_services.message_delete(actor=author, message=fresh)
            except Exception as error:  # the loser of the race is refused as the rules say
                return type(error).__name__
            return "ok"

        results = race(act, ["edit", "delete"])
        message.refresh_from_db()
        assert message.deleted_at is not None
        assert set(results) <= {"ok", "NotFound"}


def test_concurrent_edits_both_land_in_the_history(reference_data):
    author = UserFactory()
    channel = Channel.objects.create(name="general")
    message = community_services.message_post(actor=author, channel=channel, content="v0")

    def edit(text):
        fresh = Message.objects.select_related("channel", "user").get(pk=message.pk)
        community_services.message_edit(actor=author, message=fresh, content=text)

    race(edit, ["v1", "v2"])
    message.refresh_from_db()
    history = list(MessageEdit.objects.filter(message=message).order_by("edited_at", "pk").values_list("content", flat=True))
    assert history[0] == "v0" and len(history) == 2  # each edit recorded the text it replaced
    assert {history[1], message.content} == {"v1", "v2"}
