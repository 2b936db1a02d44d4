"""Forum search: a topic is found by its title, its text and its live replies' text, as one document.

The query is read by the docs search's parser (``content.search.query_parse``: words, ``"phrases"``,
``-excluded`` words, the last word a prefix while typed) and matched the way the docs are matched:

- PostgreSQL: a stored vector on each topic (``ForumPost.search_vector``; weights A title, B text,
  C the live replies' text), GIN-indexed, against the docs' tsquery (``content.search.TermsQuery``:
  user text never becomes tsquery syntax); ``ts_rank`` orders, ``ts_headline`` marks the snippets of
  the page shown. Stored rather than a GIN expression index because a topic's document spans two
  tables (an expression index cannot read the replies) and because ranking reads the vector of every
  match: recomputing ``to_tsvector`` of a whole thread per match per search would be the slow part.
  The services rewrite it with one UPDATE (``forum_post_index``) in the transaction of every change
  to the title, the text or a reply (create, edit, delete), under the topic's row lock, so two
  concurrent replies cannot index a stale set of replies.
- SQLite (development): the ``FallbackMatcher`` of the docs over the same three texts: narrowed with
  ``LIKE`` in SQL, matched exactly in Python. Correct, not fast.

Both search the topics ``selectors.forum_post_list`` returns for the user: visibility (private forums
for members only) is that selector's, never re-derived here. A reply counts while not deleted and visible (a shadowed or held reply's text never
finds a topic, nor shows in a snippet: the index is shared by every reader); at
most ``REPLIES_INDEX_CHARS`` characters of a topic's replies (oldest first) are indexed on either
database, because a tsvector is limited to 1 MB.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchRank
from django.db import connection
from django.db.models import F, Q

from content.search import (
    HEADLINE_OPTIONS,
    RANK_WEIGHTS,
    SEARCH_CONFIG,
    START_SEL,
    STOP_SEL,
    FallbackMatcher,
    TermsQuery,
    has_positive_terms,
    query_parse,
    snippet_html,
    tsquery_sql,
)

from .models import ForumPost, ForumReply

REPLIES_INDEX_CHARS = 200_000
# ts_headline parses what it is given (~0.4 ms per kB): the topic's text and the start of its first
# replies, this much at most, for each topic of the page shown.
HEADLINE_CHARS = 3000
HEADLINE_REPLIES = 10
HEADLINE_REPLY_CHARS = 1000

# {where}: which topics. Phrases never span the title, the text and the replies: ``||`` shifts the
# positions of its right side past the left's.
INDEX_SQL = """
UPDATE "forum_posts" SET "search_vector" =
    setweight(to_tsvector(%s::regconfig, "forum_posts"."title"), 'A')
    || setweight(to_tsvector(%s::regconfig, "forum_posts"."content"), 'B')
    || setweight(to_tsvector(%s::regconfig, left(COALESCE((
        SELECT string_agg(r."content", E'\\n' ORDER BY r."created_at", r."id")
        FROM "forum_replies" r WHERE r."post_id" = "forum_posts"."id" AND r."deleted_at" IS NULL
          AND r."moderation_state" = 'visible'
    ), ''), %s)), 'C')
WHERE {where}
"""


def forum_post_index(post_id) -> None:
    """Brings the topic's stored vector up to date (PostgreSQL; nothing to keep on SQLite). Call in the
    transaction that changed the topic or one of its replies, the topic's row locked."""
    if connection.vendor != "postgresql":
        return
    pk = ForumPost._meta.pk.get_db_prep_value(post_id, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            INDEX_SQL.format(where='"forum_posts"."id" = %s'),
            [SEARCH_CONFIG, SEARCH_CONFIG, SEARCH_CONFIG, REPLIES_INDEX_CHARS, pk],
        )


class ForumSearchResults:
    """The matches, best first, paginated like a queryset (``count()``, ``len()``, slicing), so the
    API's paginator and a page's ``Paginator`` both take it. A slice is a list of topics, each with
    ``search_rank`` and ``search_snippet`` (safe HTML): the snippets are made for that slice only."""

    def __init__(self, source, terms, page_rows=None):
        self._source = source  # a queryset (PostgreSQL) or a ranked list of topics (fallback)
        self._terms = terms
        self._page_rows = page_rows  # PostgreSQL: the topics with everything a page shows

    def count(self) -> int:
        if isinstance(self._source, list):
            return len(self._source)
        return self._source.count()

    def __len__(self) -> int:
        return self.count()

    def __iter__(self):
        return iter(self[:])

    def __getitem__(self, key):
        if isinstance(key, int):
            return self[key : key + 1][0]
        if isinstance(self._source, list):
            return self._source[key]  # the fallback made snippets while matching
        # Ranked and cut first with the bare columns, then the page's topics loaded with their
        # annotations (reactions, solution) and snippets: computed for every match, those
        # subqueries made a broad search several times slower.
        ranked = list(self._source.values_list("pk", "search_rank")[key])
        ranks = dict(ranked)
        posts = {post.pk: post for post in self._page_rows.filter(pk__in=list(ranks))}
        page = [posts[pk] for pk, _ in ranked if pk in posts]
        for post in page:
            post.search_rank = ranks[post.pk]
        _postgres_snippets(page, self._terms)
        return page


def forum_matches(queryset, *, query: str) -> ForumSearchResults:
    """The topics of ``queryset`` (from ``forum_post_list``) matching ``query``, best first; then the
    latest activity first. A query with nothing to look for (``&|!``, exclusions alone) finds nothing."""
    terms = query_parse(query)
    if not has_positive_terms(terms):
        return ForumSearchResults([], terms)
    if connection.vendor == "postgresql":
        search = TermsQuery(terms)
        matched = queryset.filter(search_vector=search).annotate(
            search_rank=SearchRank(F("search_vector"), search, weights=RANK_WEIGHTS)
        )
        ranked = matched.order_by("-search_rank", "-last_activity_at", "-pk")
        return ForumSearchResults(ranked, terms, page_rows=queryset.order_by())
    return ForumSearchResults(_fallback_matches(queryset, terms), terms)


# The texts ts_headline marks, for the topics of one page: the topic's text, then its first replies.
HEADLINE_SQL = """
SELECT p."id", ts_headline(%s::regconfig, translate(left(p."content" || E'\\n' || COALESCE((
        SELECT string_agg(left(r."content", %s), E'\\n' ORDER BY r."created_at", r."id")
        FROM (SELECT "content", "created_at", "id" FROM "forum_replies"
              WHERE "post_id" = p."id" AND "deleted_at" IS NULL AND "moderation_state" = 'visible'
              ORDER BY "created_at", "id" LIMIT %s) r
    ), ''), %s), %s, ''), {query}, %s)
FROM "forum_posts" p
WHERE p."id" = ANY(%s)
"""


def _postgres_snippets(posts, terms) -> None:
    for post in posts:
        post.search_snippet = ""
    if not posts:
        return
    query, query_params = tsquery_sql(terms)
    params = [
        SEARCH_CONFIG,
        HEADLINE_REPLY_CHARS,
        HEADLINE_REPLIES,
        HEADLINE_CHARS,
        START_SEL + STOP_SEL,
        *query_params,
        HEADLINE_OPTIONS,
        [post.pk for post in posts],
    ]
    with connection.cursor() as cursor:
        cursor.execute(HEADLINE_SQL.format(query=query), params)
        snippets = dict(cursor.fetchall())
    for post in posts:
        post.search_snippet = snippet_html(snippets.get(post.pk, ""))


def _fallback_matches(queryset, terms) -> list[ForumPost]:
    matcher = FallbackMatcher.for_terms(terms)
    live_replies = ForumReply.objects.filter(deleted_at__isnull=True, moderation_state="visible")
    for stem in matcher.narrowing:  # a word the topic must hold somewhere (a case-blind LIKE)
        queryset = queryset.filter(
            Q(title__icontains=stem)
            | Q(content__icontains=stem)
            | Q(pk__in=live_replies.filter(content__icontains=stem).values("post_id"))
        )
    posts = list(queryset)
    replies: dict = {post.pk: [] for post in posts}
    rows = (
        live_replies.filter(post_id__in=list(replies))
        .order_by("created_at", "pk")
        .values_list("post_id", "content")
    )
    for post_id, content in rows:
        replies[post_id].append(content)
    found = []
    for post in posts:
        replies_text = "\n".join(replies[post.pk])[:REPLIES_INDEX_CHARS]
        rank = matcher.rank([post.title, post.content, replies_text])
        if rank is not None:
            post.search_rank = rank
            post.search_snippet = matcher.snippet(f"{post.content}\n{replies_text}")
            found.append(post)
    found.sort(key=lambda p: str(p.pk), reverse=True)  # then, stable: the order PostgreSQL gives
    found.sort(key=lambda p: (-p.search_rank, -p.last_activity_at.timestamp()))
    return found
