"""Forum search (``GET /api/forum/posts/?q=``): topics found by title, text and live replies, on
PostgreSQL (the stored vector) and SQLite (the fallback) alike; visibility exactly as the list's."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from community import selectors, services
from community.models import Channel, ChannelMember
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def as_user(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture(autouse=True)
def no_post_limit(settings):
    settings.COMMUNITY_POST_RATE = {"messages": 10_000, "seconds": 10}


@pytest.fixture
def forums(db):
    return {
        "public": Channel.objects.create(name="help", type="forum"),
        "other": Channel.objects.create(name="ideas", type="forum"),
        "private": Channel.objects.create(name="staff-forum", type="forum", is_private=True),
    }


@pytest.fixture
def people(db, forums):
    member = UserFactory(username="member")
    ChannelMember.objects.create(channel=forums["private"], user=member)
    return {
        "author": UserFactory(username="author"),
        "other": UserFactory(username="other"),
        "member": member,
        "staff": StaffFactory(username="mod"),
    }


def topic(author, channel, title, content="Some words.", tags=()):
    return services.forum_post_create(
        actor=author, channel=channel, title=title, content=content, tags=list(tags)
    )


def reply(author, post, content):
    return services.forum_reply_create(actor=author, post=post, content=content)


def search(user, q, **params):
    response = as_user(user).get("/api/forum/posts/", {"q": q, **params})
    assert response.status_code == 200, response.json()
    return response.json()


def titles(body):
    return [r["title"] for r in body["results"]]


@pytest.fixture
def corpus(people, forums):
    author, other = people["author"], people["other"]
    deploy = topic(
        author,
        forums["public"],
        "Deploying with daphne",
        "How do I run the websocket server in production?",
        tags=["deploy"],
    )
    reply(other, deploy, "Use a process manager and put nginx in front of it.")
    docker = topic(
        author, forums["public"], "Containers", "Blue green deploy of the workers with docker compose."
    )
    reply(other, docker, "Remember the healthcheck for the zeppelin service.")
    apart = topic(
        author,
        forums["other"],
        "Colours",
        "The blue sky and a green field; we deploy later.",
        tags=["deploy"],
    )
    secret = topic(people["member"], forums["private"], "Quarterly budget", "Internal numbers.")
    reply(people["member"], secret, "The walrus plan stays confidential.")
    return {"deploy": deploy, "docker": docker, "apart": apart, "secret": secret}


def test_finds_a_topic_by_its_title_with_a_marked_snippet(people, corpus):
    body = search(people["other"], "daphne")
    assert titles(body) == ["Deploying with daphne"]
    assert body["count"] == 1
    assert body["results"][0]["id"] == str(corpus["deploy"].pk)
    assert "snippet" in body["results"][0]


def test_finds_a_topic_by_its_text(people, corpus):
    body = search(people["other"], "websocket production")
    assert titles(body) == ["Deploying with daphne"]
    assert "<mark>websocket</mark>" in body["results"][0]["snippet"]


def test_finds_a_topic_by_a_reply_and_marks_it_in_the_snippet(people, corpus):
    body = search(people["other"], "zeppelin")
    assert titles(body) == ["Containers"]
    assert "<mark>zeppelin</mark>" in body["results"][0]["snippet"]


def test_a_title_match_ranks_above_text_and_reply_matches(people, corpus, forums):
    topic(people["author"], forums["public"], "Nginx in front", "A proxy question.")
    body = search(people["other"], "nginx")
    assert titles(body) == ["Nginx in front", "Deploying with daphne"]  # the second by a reply only


def test_a_quoted_phrase_needs_the_words_in_a_row(people, corpus):
    assert titles(search(people["other"], '"blue green deploy"')) == ["Containers"]
    assert set(titles(search(people["other"], "blue green deploy"))) == {"Containers", "Colours"}


def test_an_excluded_word_drops_topics_holding_it_anywhere_replies_included(people, corpus):
    assert set(titles(search(people["other"], "deploy"))) == {
        "Deploying with daphne",
        "Containers",
        "Colours",
    }
    assert set(titles(search(people["other"], "deploy -docker"))) == {"Deploying with daphne", "Colours"}
    assert set(titles(search(people["other"], "deploy -nginx"))) == {
        "Containers",
        "Colours",
    }  # nginx: a reply


def test_the_last_word_is_a_prefix_while_typed(people, corpus):
    assert titles(search(people["other"], "daph")) == ["Deploying with daphne"]
    assert titles(search(people["other"], "zeppel")) == ["Containers"]
    if connection.vendor == "postgresql":  # the fallback reads every word as the start of a word
        assert titles(search(people["other"], "daph ")) == []  # a space ends the word: no prefix any more


def test_stemming_finds_other_forms_of_a_word(people, corpus):
    assert "Deploying with daphne" in titles(search(people["other"], "deploys"))


def test_a_private_forums_topic_is_found_only_by_its_members(people, corpus):
    for name in ("author", "other"):
        assert search(people[name], "budget")["results"] == []
        assert search(people[name], "walrus")["results"] == []  # not even through a reply's text
    assert titles(search(people["member"], "walrus")) == ["Quarterly budget"]
    assert titles(search(people["staff"], "budget")) == ["Quarterly budget"]


def test_a_removed_member_no_longer_finds_the_private_topic(people, corpus, forums):
    ChannelMember.objects.filter(user=people["member"], channel=forums["private"]).delete()
    assert search(people["member"], "walrus")["results"] == []


def test_a_deleted_reply_no_longer_matches(people, corpus):
    gone = reply(people["other"], corpus["apart"], "A note about the okapi.")
    assert titles(search(people["author"], "okapi")) == ["Colours"]
    services.forum_reply_delete(actor=people["other"], reply=gone)
    assert search(people["author"], "okapi")["results"] == []


def test_edits_of_replies_and_topics_are_searchable_at_once(people, corpus):
    first = reply(people["other"], corpus["apart"], "About the okapi.")
    services.forum_reply_edit(actor=people["other"], reply=first, content="About the narwhal.")
    assert search(people["author"], "okapi")["results"] == []
    assert titles(search(people["author"], "narwhal")) == ["Colours"]
    post = selectors.forum_post_get_visible(user=people["author"], post_id=corpus["apart"].pk)
    services.forum_post_update(
        actor=people["author"], post=post, data={"title": "Palettes", "content": "Only teal here."}
    )
    assert titles(search(people["author"], "palettes teal")) == ["Palettes"]
    assert search(people["author"], "sky")["results"] == []


def test_search_combines_with_the_channel_and_tag_filters(people, corpus, forums):
    assert set(titles(search(people["other"], "deploy", channel=str(forums["public"].pk)))) == {
        "Deploying with daphne",
        "Containers",
    }
    assert set(titles(search(people["other"], "deploy", tag="deploy"))) == {
        "Deploying with daphne",
        "Colours",
    }
    assert titles(search(people["other"], "deploy", tag="deploy", channel=str(forums["other"].pk))) == [
        "Colours"
    ]
    assert titles(search(people["other"], "deploy", order="unanswered")) == ["Colours"]


def test_snippets_escape_the_topics_text(people, forums):
    topic(people["author"], forums["public"], "Escaping", 'Never <script>alert("pwned")</script> a quokka.')
    snippet = search(people["other"], "quokka")["results"][0]["snippet"]
    # Escaped (PostgreSQL's headline also drops what its parser reads as tags; the fallback keeps them, escaped).
    assert "<script" not in snippet and "&quot;pwned&quot;" in snippet
    assert "<mark>quokka</mark>" in snippet


def test_an_empty_query_is_the_plain_list(people, corpus):
    plain = as_user(people["other"]).get("/api/forum/posts/").json()
    for q in ("", "   "):
        body = search(people["other"], q)
        assert titles(body) == titles(plain)
        assert all("snippet" not in r for r in body["results"])


def test_a_query_too_long_is_a_400(people, corpus):
    response = as_user(people["other"]).get("/api/forum/posts/", {"q": "a" * 201})
    assert response.status_code == 400
    assert "q" in str(response.json())


@pytest.mark.parametrize(
    "q",
    [
        "&",
        "|",
        "!",
        "!!",
        ":*",
        "deploy:*",
        "deploy & docker",
        "a | b",
        "!deploy",
        "'",
        "''",
        '"',
        '"unclosed',
        "\\",
        "\\\\",
        "deploy\\",
        "(",
        ")",
        "<->",
        "deploy <-> docker",
        "'deploy':*A",
        "-",
        "--",
        "-deploy",
        "*",
        "%",
        "_",
        "daph%",
        "é",
        "日本",
        "\u200b",
        "deploy\t\ndocker",
    ],
)
def test_hostile_queries_answer_200(people, corpus, q):
    body = search(people["other"], q)
    for result in body["results"]:
        assert result["title"] != "Quarterly budget"


def test_a_nul_character_is_a_400_not_a_500(people, corpus):
    assert as_user(people["other"]).get("/api/forum/posts/", {"q": "dep\x00loy"}).status_code == 400


def test_exclusions_alone_find_nothing(people, corpus):
    assert search(people["other"], "-docker")["results"] == []


def test_the_query_count_does_not_grow_with_the_results(people, forums):
    def count_queries():
        with CaptureQueriesContext(connection) as captured:
            body = search(people["member"], "lighthouse")
        return len(captured.captured_queries), body["count"]

    topic(people["member"], forums["private"], "Lighthouse one")  # a private forum: its membership looked up
    few, found = count_queries()
    assert found == 1
    for n in range(8):  # in three forums, one private (several memberships to look up), with replies
        where = ["public", "other", "private"][n % 3]
        writer = people["member"] if where == "private" else people["author"]
        post = topic(writer, forums[where], f"Topic {n}", "The lighthouse keeper.", tags=["light"])
        reply(people["member"], post, "A lighthouse reply.")
    many, found = count_queries()
    assert found == 9
    assert many == few, f"{few} queries for one result, {many} for nine"
