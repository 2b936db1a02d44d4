"""Forum REST API: who may read, post, reply, edit, delete, pin, lock and choose a solution; lists and counters."""

import pytest
from rest_framework.test import APIClient

from community import services
from community.models import Channel, ChannelMember, ForumPost, ForumPostEdit, ForumReply
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def as_user(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def forums(db):
    return {
        "public": Channel.objects.create(name="help", type="forum"),
        "private": Channel.objects.create(name="staff-forum", type="forum", is_private=True),
        "locked": Channel.objects.create(name="news", type="forum", is_locked=True),
        "archived": Channel.objects.create(name="old-forum", type="forum", state="archived"),
        "chat": Channel.objects.create(name="general"),
    }


@pytest.fixture
def people(db, forums):
    member = UserFactory(username="member")
    ChannelMember.objects.create(channel=forums["private"], user=member)
    return {"author": UserFactory(username="author"), "other": UserFactory(username="other"), "member": member,
            "staff": StaffFactory(username="mod")}


@pytest.fixture
def no_post_limit(settings):
    settings.COMMUNITY_POST_RATE = {"messages": 10_000, "seconds": 10}


def who(people, name):
    return None if name == "anonymous" else people[name]


def topic(author, channel, title="How do I deploy?", content="Steps **please**", tags=()):
    return services.forum_post_create(actor=author, channel=channel, title=title, content=content, tags=list(tags))


def reply_to(author, post, content="Use daphne."):
    return services.forum_reply_create(actor=author, post=post, content=content)


# --- create -------------------------------------------------------------------------------------


def test_member_opens_a_topic_with_normalised_tags_and_rendered_markdown(people, forums):
    response = as_user(people["author"]).post(
        "/api/forum/posts/",
        {"channel": str(forums["public"].pk), "title": " Deploy ", "content": "Use **daphne** <script>x</script>",
         "tags": ["Django", "deploy", "django"]},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["title"] == "Deploy"
    assert body["tags"] == ["django", "deploy"]
    assert "<strong>daphne</strong>" in body["content_html"]
    assert "<script>" not in body["content_html"]
    assert body["author"]["username"] == "author"
    assert (body["reply_count"], body["view_count"], body["is_solved"], body["edited_at"]) == (0, 0, False, None)
    assert body["can_edit"] and body["can_reply"] and not body["can_moderate"]


@pytest.mark.parametrize(
    "name, forum, status",
    [
        ("anonymous", "public", 401),
        ("other", "public", 201),
        ("other", "private", 400),  # a body field naming a channel you cannot see: not revealed
        ("member", "private", 201),
        ("staff", "private", 201),
        ("other", "locked", 403),
        ("staff", "locked", 201),
        ("staff", "archived", 403),
    ],
)
def test_who_may_open_a_topic_follows_the_chat_rules(people, forums, name, forum, status):
    response = as_user(who(people, name)).post(
        "/api/forum/posts/", {"channel": str(forums[forum].pk), "title": "Hi", "content": "Text"}
    )
    assert response.status_code == status, response.json()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"channel": "nope", "title": "T", "content": "C"}, "channel"),
        ({"channel": None, "title": "T", "content": "C"}, "channel"),
        ({"title": "", "content": "C"}, "title"),
        ({"title": 42, "content": "C"}, "title"),
        ({"title": "T", "content": "   "}, "content"),
        ({"title": "x" * 256, "content": "C"}, "title"),
        ({"title": "T", "content": "C", "tags": ["has space"]}, "tags"),
        ({"title": "T", "content": "C", "tags": ["a", "b", "c", "d", "e", "f"]}, "tags"),
        ({"title": "T", "content": "C", "tags": "django"}, "tags"),
        ({"title": "T", "content": "C", "tags": ["x" * 33]}, "tags"),
    ],
)
def test_bad_topic_input_is_400_with_field_errors(people, forums, body, field):
    body = {"channel": str(forums["public"].pk), **body}
    response = as_user(people["author"]).post("/api/forum/posts/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_a_chat_channel_takes_no_topics(people, forums):
    response = as_user(people["author"]).post("/api/forum/posts/", {"channel": str(forums["chat"].pk), "title": "T", "content": "C"})
    assert response.status_code == 400
    assert "channel" in response.json()["error"]["fields"]


# --- read ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, status", [("anonymous", 401), ("other", 404), ("member", 200), ("staff", 200)])
def test_private_forum_topics_are_404_to_non_members(people, forums, name, status):
    post = topic(people["member"], forums["private"])
    reply = reply_to(people["member"], post)
    client = as_user(who(people, name))
    assert client.get(f"/api/forum/posts/{post.pk}/").status_code == status
    assert client.get(f"/api/forum/posts/{post.pk}/replies/").status_code == status
    assert client.get(f"/api/forum/replies/{reply.pk}/").status_code == status
    assert client.get(f"/api/forum/posts/{post.pk}/edits/").status_code == status
    assert client.post(f"/api/forum/posts/{post.pk}/replies/", {"content": "x"}).status_code == (201 if status == 200 else status)


@pytest.mark.parametrize(
    "name, expected",
    [("other", ["public topic"]), ("member", ["private topic", "public topic"]), ("staff", ["private topic", "public topic"])],
)
def test_list_shows_only_visible_forums(people, forums, name, expected):
    topic(people["author"], forums["public"], title="public topic")
    topic(people["member"], forums["private"], title="private topic")
    results = as_user(people[name]).get("/api/forum/posts/?order=newest").json()["results"]
    assert [r["title"] for r in results] == expected


def test_list_requires_sign_in(forums):
    assert as_user(None).get("/api/forum/posts/").status_code == 401


def test_unknown_topic_and_malformed_id_are_404(people):
    client = as_user(people["other"])
    assert client.get("/api/forum/posts/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/api/forum/posts/not-a-uuid/").status_code == 404
    assert client.post("/api/forum/replies/not-a-uuid/solution/").status_code == 404


def test_list_filters_by_channel_and_tag(people, forums):
    topic(people["staff"], forums["public"], title="a", tags=["python"])
    topic(people["staff"], forums["public"], title="b", tags=["go"])
    topic(people["staff"], forums["locked"], title="c", tags=["Python"])
    client = as_user(people["other"])
    titles = lambda q: sorted(r["title"] for r in client.get(f"/api/forum/posts/?{q}").json()["results"])  # noqa: E731
    assert titles("tag=PYTHON") == ["a", "c"]
    assert titles(f"channel={forums['public'].pk}") == ["a", "b"]
    assert titles(f"channel={forums['public'].pk}&tag=python") == ["a"]
    assert titles(f"channel={forums['private'].pk}") == []
    assert client.get("/api/forum/posts/?channel=nope").status_code == 400
    assert client.get("/api/forum/posts/?tag=no%20spaces").status_code == 400
    assert client.get("/api/forum/posts/?order=random").status_code == 400
    assert client.get("/api/forum/posts/?tag=").status_code == 400
    assert client.get("/api/forum/posts/?channel=").status_code == 400


def test_list_orderings_with_pinned_first(people, forums, django_capture_on_commit_callbacks):
    author, other, staff = people["author"], people["other"], people["staff"]
    old = topic(author, forums["public"], title="old")
    answered = topic(author, forums["public"], title="answered")
    popular = topic(author, forums["public"], title="popular")
    pinned = topic(author, forums["public"], title="pinned")
    services.forum_post_update(actor=staff, post=pinned, data={"is_pinned": True})
    reply_to(other, old)  # old now has the latest activity
    solution = reply_to(other, answered)
    services.forum_solution_mark(actor=author, reply=solution)
    services.forum_reaction_toggle(actor=other, target=popular, emoji="👍")
    services.forum_reaction_toggle(actor=staff, target=popular, emoji="🎉")
    client = as_user(other)
    order = lambda o: [r["title"] for r in client.get(f"/api/forum/posts/?order={o}").json()["results"]]  # noqa: E731
    assert order("activity") == ["pinned", "answered", "old", "popular"]
    assert order("newest") == ["pinned", "popular", "answered", "old"]
    assert order("top")[:2] == ["pinned", "popular"]
    assert order("unanswered") == ["pinned", "popular"]
    assert order("solved") == ["answered"]
    body = client.get(f"/api/forum/posts/{answered.pk}/").json()
    assert body["is_solved"] and body["solution"] == str(solution.pk)


def test_list_query_count_does_not_grow_with_topics(people, forums, django_assert_max_num_queries, no_post_limit):
    member = people["member"]

    def fill(n):
        for i in range(n):
            for forum in ("public", "private"):
                post = topic(people["staff"], forums[forum], title=f"{forum} {i}", tags=["x"])
                reply_to(people["staff"], post)
                services.forum_reaction_toggle(actor=member, target=post, emoji="👍")

    client = as_user(member)
    fill(2)
    with django_assert_max_num_queries(8) as few:
        assert len(client.get("/api/forum/posts/?tag=x").json()["results"]) == 4
    fill(10)
    with django_assert_max_num_queries(len(few)):
        assert len(client.get("/api/forum/posts/?tag=x").json()["results"]) == 24


def test_replies_list_query_count_does_not_grow(people, forums, django_assert_max_num_queries, no_post_limit):
    post = topic(people["author"], forums["public"])
    for _ in range(3):
        reply_to(people["other"], post)
    client = as_user(people["author"])
    with django_assert_max_num_queries(10) as few:
        client.get(f"/api/forum/posts/{post.pk}/replies/")
    for _ in range(15):
        services.forum_reaction_toggle(actor=people["author"], target=reply_to(people["other"], post), emoji="👍")
    with django_assert_max_num_queries(len(few)):
        assert len(client.get(f"/api/forum/posts/{post.pk}/replies/").json()["results"]) == 18


# --- views --------------------------------------------------------------------------------------


def test_a_view_counts_once_per_viewer_per_hour(people, forums):
    post = topic(people["author"], forums["public"])
    for _ in range(3):
        as_user(people["other"]).get(f"/api/forum/posts/{post.pk}/")
    as_user(people["member"]).get(f"/api/forum/posts/{post.pk}/")
    post.refresh_from_db()
    assert post.view_count == 2


# --- edit, delete ------------------------------------------------------------------------------


@pytest.mark.parametrize("name, status", [("anonymous", 401), ("other", 403), ("author", 200), ("staff", 200)])
def test_only_author_or_staff_edit_a_topic_and_history_is_kept(people, forums, name, status):
    post = topic(people["author"], forums["public"], title="Old title", content="old text")
    response = as_user(who(people, name)).patch(f"/api/forum/posts/{post.pk}/", {"content": "new text", "tags": ["New"]})
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert body["content"] == "new text" and body["edited_at"] is not None and body["tags"] == ["new"]
        edits = as_user(people["other"]).get(f"/api/forum/posts/{post.pk}/edits/").json()["results"]
        assert [(e["title"], e["content"], e["edited_by"]) for e in edits] == [("Old title", "old text", people[name].username)]
    else:
        assert not ForumPostEdit.objects.exists()


@pytest.mark.parametrize("name, status", [("other", 403), ("author", 403), ("staff", 200)])
def test_only_staff_pin_and_lock(people, forums, name, status):
    post = topic(people["author"], forums["public"])
    response = as_user(people[name]).patch(f"/api/forum/posts/{post.pk}/", {"is_pinned": True, "is_locked": True}, format="json")
    assert response.status_code == status
    post.refresh_from_db()
    assert (post.is_pinned, post.is_locked) == ((True, True) if status == 200 else (False, False))


def test_patch_with_wrong_types_is_400(people, forums):
    post = topic(people["author"], forums["public"])
    client = as_user(people["staff"])
    assert client.patch(f"/api/forum/posts/{post.pk}/", {"is_pinned": "yes"}, format="json").status_code == 400
    assert client.patch(f"/api/forum/posts/{post.pk}/", {"title": ""}, format="json").status_code == 400


@pytest.mark.parametrize("name, status", [("anonymous", 401), ("other", 403), ("author", 204), ("staff", 204)])
def test_only_author_or_staff_delete_a_topic(people, forums, name, status):
    post = topic(people["author"], forums["public"])
    reply_to(people["other"], post)
    assert as_user(who(people, name)).delete(f"/api/forum/posts/{post.pk}/").status_code == status
    assert ForumPost.objects.filter(pk=post.pk).exists() == (status != 204)


# --- replies ------------------------------------------------------------------------------------


def test_a_locked_topic_refuses_replies_with_a_403_that_says_so(people, forums):
    post = topic(people["author"], forums["public"])
    services.forum_post_update(actor=people["staff"], post=post, data={"is_locked": True})
    for name in ("other", "author", "staff"):
        response = as_user(people[name]).post(f"/api/forum/posts/{post.pk}/replies/", {"content": "hello"})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "topic_locked"
        assert "locked" in response.json()["error"]["message"]
    assert not ForumReply.objects.exists()
    body = as_user(people["other"]).get(f"/api/forum/posts/{post.pk}/").json()
    assert body["is_locked"] and not body["can_reply"]


def test_replies_in_a_locked_channel_are_staff_only(people, forums):
    post = topic(people["staff"], forums["locked"])
    assert as_user(people["other"]).post(f"/api/forum/posts/{post.pk}/replies/", {"content": "x"}).status_code == 403
    assert as_user(people["staff"]).post(f"/api/forum/posts/{post.pk}/replies/", {"content": "x"}).status_code == 201


def test_reply_counters_follow_creates_and_soft_deletes(people, forums):
    post = topic(people["author"], forums["public"])
    client = as_user(people["other"])
    first = client.post(f"/api/forum/posts/{post.pk}/replies/", {"content": "one"}).json()
    second = client.post(f"/api/forum/posts/{post.pk}/replies/", {"content": "two"}).json()
    post.refresh_from_db()
    assert post.reply_count == 2 and post.last_reply_at.isoformat() == second["created_at"]
    assert client.delete(f"/api/forum/replies/{second['id']}/").status_code == 204
    post.refresh_from_db()
    assert post.reply_count == 1 and post.last_reply_at.isoformat() == first["created_at"]
    assert client.delete(f"/api/forum/replies/{first['id']}/").status_code == 204
    post.refresh_from_db()
    assert (post.reply_count, post.last_reply_at) == (0, None)
    results = client.get(f"/api/forum/posts/{post.pk}/replies/").json()["results"]
    assert [(r["deleted"], r["content"]) for r in results] == [(True, ""), (True, "")]
    assert client.get(f"/api/forum/replies/{first['id']}/").status_code == 404


@pytest.mark.parametrize("name, status", [("anonymous", 401), ("author", 403), ("other", 200), ("staff", 200)])
def test_only_reply_author_or_staff_edit_a_reply(people, forums, name, status):
    post = topic(people["author"], forums["public"])
    reply = reply_to(people["other"], post)
    response = as_user(who(people, name)).patch(f"/api/forum/replies/{reply.pk}/", {"content": "better"})
    assert response.status_code == status
    if status == 200:
        assert response.json()["content"] == "better" and response.json()["edited_at"]


@pytest.mark.parametrize("name, status", [("author", 403), ("other", 204), ("staff", 204)])
def test_only_reply_author_or_staff_delete_a_reply(people, forums, name, status):
    reply = reply_to(people["other"], topic(people["author"], forums["public"]))
    assert as_user(people[name]).delete(f"/api/forum/replies/{reply.pk}/").status_code == status


def test_bad_reply_input_is_400(people, forums):
    post = topic(people["author"], forums["public"])
    client = as_user(people["other"])
    for body in ({}, {"content": ""}, {"content": 5}, {"content": "x" * 20001}):
        response = client.post(f"/api/forum/posts/{post.pk}/replies/", body, format="json")
        assert response.status_code == 400 and "content" in response.json()["error"]["fields"]


# --- solution -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, status", [("anonymous", 401), ("other", 403), ("member", 403), ("author", 200), ("staff", 200)])
def test_only_the_topics_author_or_staff_mark_a_solution(people, forums, name, status):
    post = topic(people["author"], forums["public"])
    reply = reply_to(people["other"], post)  # the reply's own author is not the topic's
    response = as_user(who(people, name)).post(f"/api/forum/replies/{reply.pk}/solution/")
    assert response.status_code == status
    reply.refresh_from_db()
    assert reply.is_solution == (status == 200)


def test_a_topic_has_at_most_one_solution_and_it_can_be_unmarked(people, forums):
    post = topic(people["author"], forums["public"])
    first, second = reply_to(people["other"], post), reply_to(people["member"], post)
    client = as_user(people["author"])
    assert client.post(f"/api/forum/replies/{first.pk}/solution/").json()["is_solution"]
    assert client.post(f"/api/forum/replies/{second.pk}/solution/").json()["is_solution"]
    assert list(ForumReply.objects.filter(is_solution=True).values_list("pk", flat=True)) == [second.pk]
    assert as_user(people["other"]).delete(f"/api/forum/replies/{second.pk}/solution/").status_code == 403
    assert client.delete(f"/api/forum/replies/{second.pk}/solution/").status_code == 204
    assert not ForumReply.objects.filter(is_solution=True).exists()
    assert client.get(f"/api/forum/posts/{post.pk}/").json()["solution"] is None


def test_the_database_refuses_a_second_solution(people, forums):
    from django.db import IntegrityError, transaction

    post = topic(people["author"], forums["public"])
    first, second = reply_to(people["other"], post), reply_to(people["other"], post)
    ForumReply.objects.filter(pk=first.pk).update(is_solution=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ForumReply.objects.filter(pk=second.pk).update(is_solution=True)


def test_deleting_the_solution_unsolves_the_topic(people, forums):
    post = topic(people["author"], forums["public"])
    reply = reply_to(people["other"], post)
    services.forum_solution_mark(actor=people["author"], reply=reply)
    as_user(people["other"]).delete(f"/api/forum/replies/{reply.pk}/")
    assert as_user(people["author"]).get(f"/api/forum/posts/{post.pk}/").json()["is_solved"] is False
    assert as_user(people["author"]).post(f"/api/forum/replies/{reply.pk}/solution/").status_code == 404


# --- reactions ----------------------------------------------------------------------------------


def test_reactions_on_topics_and_replies_toggle_like_chat(people, forums):
    post = topic(people["author"], forums["public"])
    reply = reply_to(people["author"], post)
    client = as_user(people["other"])
    assert client.post(f"/api/forum/posts/{post.pk}/reactions/", {"emoji": "👍"}).json() == {"emoji": "👍", "added": True, "count": 1}
    assert client.post(f"/api/forum/replies/{reply.pk}/reactions/", {"emoji": "🎉"}).json()["count"] == 1
    assert client.get(f"/api/forum/posts/{post.pk}/").json()["reactions"] == {"👍": {"count": 1, "me": True}}
    replies = as_user(people["author"]).get(f"/api/forum/posts/{post.pk}/replies/").json()["results"]
    assert replies[0]["reactions"] == {"🎉": {"count": 1, "me": False}}
    assert client.post(f"/api/forum/posts/{post.pk}/reactions/", {"emoji": "👍"}).json()["added"] is False
    assert client.post(f"/api/forum/posts/{post.pk}/reactions/", {"emoji": "nope"}).status_code == 400


def test_reactions_in_a_private_forum_are_404_to_outsiders(people, forums):
    post = topic(people["member"], forums["private"])
    reply = reply_to(people["member"], post)
    assert as_user(people["other"]).post(f"/api/forum/posts/{post.pk}/reactions/", {"emoji": "👍"}).status_code == 404
    assert as_user(people["other"]).post(f"/api/forum/replies/{reply.pk}/reactions/", {"emoji": "👍"}).status_code == 404
    assert as_user(people["member"]).post(f"/api/forum/replies/{reply.pk}/reactions/", {"emoji": "👍"}).status_code == 200


def test_the_tag_filter_follows_edited_tags(people, forums):
    post = topic(people["author"], forums["public"], tags=["old"])
    client = as_user(people["author"])
    client.patch(f"/api/forum/posts/{post.pk}/", {"tags": ["New", "other"]}, format="json")
    assert [r["id"] for r in client.get("/api/forum/posts/?tag=new").json()["results"]] == [str(post.pk)]
    assert client.get("/api/forum/posts/?tag=old").json()["results"] == []
    client.patch(f"/api/forum/posts/{post.pk}/", {"tags": []}, format="json")
    assert client.get("/api/forum/posts/?tag=new").json()["results"] == []


def test_unlocking_a_topic_takes_replies_again(people, forums):
    post = topic(people["author"], forums["public"])
    staff = as_user(people["staff"])
    staff.patch(f"/api/forum/posts/{post.pk}/", {"is_locked": True}, format="json")
    assert as_user(people["other"]).post(f"/api/forum/posts/{post.pk}/replies/", {"content": "x"}).status_code == 403
    staff.patch(f"/api/forum/posts/{post.pk}/", {"is_locked": False}, format="json")
    assert as_user(people["other"]).post(f"/api/forum/posts/{post.pk}/replies/", {"content": "x"}).status_code == 201
