"""Docs full-text search: the index kept on save, and the query (PostgreSQL full text; SQLite fallback).

One parser reads what a user types (words, ``"quoted phrases"``, ``-excluded`` words, the last word
as a prefix while it is being typed) into terms; each database then matches those same terms:

- PostgreSQL: the stored, GIN-indexed vector (weights A title, B headings, C body) against a
  tsquery built from the terms. User text only ever reaches ``phraseto_tsquery`` (which reads any
  text as plain words) or, for the prefix, ``to_tsquery`` with letters and digits alone, so no
  input is tsquery syntax. ``ts_rank`` orders, ``ts_headline`` marks the snippet of the rows shown.
- SQLite (development): every term must appear (a word as the start of a word, crudely stemmed;
  the last word as a prefix), ranked by where it matches (title, headings, body), then how often.

The parser, ``tsquery_sql``/``TermsQuery``, ``snippet_html`` and ``FallbackMatcher`` know nothing of
the docs: the forum search (``community.search``) uses them for topics and their replies.

Snippets are HTML built here: the page text escaped, the matches in ``<mark>``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchQueryField, SearchVector
from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection
from django.db.models import Func, Value
from django.utils.safestring import SafeString, mark_safe

from agentwise.net import client_ip
from agentwise.ratelimits import rate_limit_hit

from . import blocks
from .models import Documentation

SEARCH_CONFIG = "english"
STEM_DICTIONARY = "english_stem"  # the english configuration's stemmer, for half-typed words
MAX_QUERY_LENGTH = 200
MAX_TERMS = 12
DEFAULT_LIMIT = 10
MAX_LIMIT = 50
# ts_headline parses the text it is given (~0.4 ms per kB): it reads at most this much of a page.
HEADLINE_CHARS = 6000
# ts_rank weights for D, C (body), B (headings), A (title). One title match outranks any number of
# body matches (ts_rank saturates a term's repeats at about 1.6 times one occurrence).
RANK_WEIGHTS = [0.05, 0.1, 0.4, 1.0]
# Markers ts_headline puts around matches; removed from the text first so a page cannot fake them.
START_SEL, STOP_SEL = "\x02", "\x03"
SNIPPET_CHARS = 220

# PostgreSQL's english.stop: the english configuration drops these words, and so does the fallback.
STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
    her hers herself it its itself they them their theirs themselves what which who whom this that these
    those am is are was were be been being have has had having do does did doing a an the and but if or
    because as until while of at by for with about against between into through during before after
    above below to from up down in out on off over under again further then once here there when where
    why how all any both each few more most other some such no nor not only own same so than too very s
    t can will just don should now""".split()
)
# Endings the english stemmer takes off (or rewrites): completing a half-typed word with them finds
# the stem it will have (``configura`` → configuration → ``configur``; ``settin`` → setting → ``set``).
COMPLETIONS = (
    "ing",
    "ings",
    "ed",
    "er",
    "ers",
    "ies",
    "ation",
    "ations",
    "ization",
    "isation",
    "ational",
    "ment",
    "ments",
    "able",
    "ible",
    "ness",
    "ity",
    "ive",
    "ous",
    "ence",
    "ance",
    "ical",
    "ically",
    "ally",
    "ful",
)
# Endings after which a doubled consonant is undone (running → run): tried on the bare prefix too.
DOUBLING_COMPLETIONS = ("ing", "ed")
MAX_COMPLETIONS = 16

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')
_CHUNK_RE = re.compile(r"[^\W_]+")
_SPACES_RE = re.compile(r"\s+")
_MARKERS_RE = re.compile(f"([{START_SEL}{STOP_SEL}])")


# --- the index ---------------------------------------------------------------------------------


def search_content_for(page: Documentation) -> str:
    """The title line, then the page's text in reading order (headings in place): what snippets are
    cut from, and what the SQLite fallback narrows on."""
    return "\n".join(filter(None, [page.title, blocks.blocks_text(page.content)]))


def documentation_index(page: Documentation) -> None:
    """Brings ``search_content`` (and on PostgreSQL the weighted, GIN-indexed vector) up to date."""
    page.search_content = search_content_for(page)
    updates = {"search_content": page.search_content}
    if connection.vendor == "postgresql":
        updates["search_vector"] = (
            SearchVector(Value(page.title), weight="A", config=SEARCH_CONFIG)
            + SearchVector(Value(blocks.headings_text(page.content)), weight="B", config=SEARCH_CONFIG)
            + SearchVector(Value(blocks.body_text(page.content)), weight="C", config=SEARCH_CONFIG)
        )
    Documentation.objects.filter(pk=page.pk).update(**updates)


# --- reading a query ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One thing to look for: a word, or several in a row (a quoted phrase, or ``api-key``)."""

    text: str  # as typed (control characters removed): what phraseto_tsquery reads
    words: tuple[str, ...]  # lower-case letters-and-digits chunks, stop words included
    exclude: bool = False
    prefix: bool = False  # the last word, still being typed
    quoted: bool = False

    @property
    def content_words(self) -> tuple[str, ...]:
        return tuple(w for w in self.words if w not in STOP_WORDS)


def query_parse(text: str) -> list[Term]:
    """The terms of a query as typed. Never fails: what cannot be a term is skipped.

    ``"…"`` is a phrase (an unclosed quote runs to the end); ``-word`` or ``-"…"`` excludes; the
    last bare word is a prefix unless followed by a space; stop words (the, to, how…) and anything
    that is not letters or digits are left out.
    """
    text = _CONTROL_RE.sub(" ", (text or "")[: MAX_QUERY_LENGTH * 2])
    terms: list[Term] = []
    matches = list(_TOKEN_RE.finditer(text))
    for index, match in enumerate(matches):
        if match.group(2) is not None:
            negated, raw, quoted = match.group(1), match.group(2), True
        else:
            negated, raw, quoted = match.group(3), match.group(4), False
        words = tuple(_CHUNK_RE.findall(raw.lower()))
        if not words or all(w in STOP_WORDS for w in words):
            continue
        is_last = index == len(matches) - 1
        prefix = (
            is_last
            and not quoted
            and not negated
            and match.end() == len(text)
            and words[-1] not in STOP_WORDS
        )
        terms.append(Term(text=raw, words=words, exclude=bool(negated), prefix=prefix, quoted=quoted))
    positives = [t for t in terms if not t.exclude]
    negatives = [t for t in terms if t.exclude]
    return positives[:MAX_TERMS] + negatives[: max(0, MAX_TERMS - len(positives[:MAX_TERMS]))]


def has_positive_terms(terms: list[Term]) -> bool:
    """A query of exclusions alone matches (almost) everything: it finds nothing instead."""
    return any(not t.exclude for t in terms)


# --- PostgreSQL --------------------------------------------------------------------------------


def prefix_completions(word: str) -> list[str]:
    """Likely whole words for a half-typed one (letters and digits only, as ``word`` is)."""
    options: list[str] = []
    if len(word) >= 3:
        for ending in COMPLETIONS:
            for overlap in range(len(ending)):
                if overlap == 0 and ending not in DOUBLING_COMPLETIONS:
                    continue
                if word.endswith(ending[:overlap]) and word + ending[overlap:] not in options:
                    options.append(word + ending[overlap:])
    return options[:MAX_COMPLETIONS]


def _prefix_sql(words: tuple[str, ...]) -> tuple[str, list]:
    """The word being typed, as a tsquery: its stem as a prefix (``instal`` → ``'instal':*``), or
    the stem of a likely completion (``configura`` → configuration → ``'configur'``).

    The completions are stemmed by PostgreSQL in the same statement (``ts_lexize``); a stem the
    prefix already covers is dropped, because ``ts_rank`` merges a query's equal lexemes and could
    keep the exact one, ranking every match 0. Words before the last one (``api-ke``) must precede
    it. Only letters and digits reach ``to_tsquery``: the parser made ``words`` of nothing else.
    """
    *before, last = words
    group = (
        "(SELECT to_tsquery(%s::regconfig, %s) || COALESCE(to_tsquery('simple', "
        "string_agg(DISTINCT quote_literal(stem), ' | ')), ''::tsquery) "
        "FROM unnest(%s::text[]) AS word CROSS JOIN LATERAL unnest(ts_lexize(%s::regdictionary, word)) AS stem "
        "WHERE strpos(stem, (ts_lexize(%s::regdictionary, %s))[1]) <> 1)"
    )
    params = [SEARCH_CONFIG, f"{last}:*", prefix_completions(last), STEM_DICTIONARY, STEM_DICTIONARY, last]
    if before:
        return f"tsquery_phrase(phraseto_tsquery(%s::regconfig, %s), {group})", [
            SEARCH_CONFIG,
            " ".join(before),
            *params,
        ]
    return group, params


def tsquery_sql(terms: list[Term]) -> tuple[str, list]:
    """The tsquery for ``terms`` as SQL and its parameters: all must match, exclusions must not.
    User text is only ever a parameter of ``phraseto_tsquery`` (or, letters and digits alone, of
    ``to_tsquery`` for the word being typed). ``terms`` must have a positive one."""
    sql, params = "", []
    for term in sorted(terms, key=lambda t: t.exclude):
        if term.prefix:
            term_sql, term_params = _prefix_sql(term.words)
        else:
            term_sql, term_params = "phraseto_tsquery(%s::regconfig, %s)", [SEARCH_CONFIG, term.text]
            if term.exclude:
                term_sql = f"!!({term_sql})"
        sql = f"({sql} && {term_sql})" if sql else term_sql
        params += term_params
    return sql, params


class TermsQuery(SearchQuery):
    """``tsquery_sql`` as an ORM expression, for querysets (``filter(search_vector=…)``, ``SearchRank``)."""

    def __init__(self, terms: list[Term]):
        self.terms = list(terms)
        self.config, self.invert = None, False
        Func.__init__(self, output_field=SearchQueryField())

    def as_sql(self, compiler, connection, **extra):
        return tsquery_sql(self.terms)


def postgres_query(terms: list[Term]) -> SearchQuery | None:
    """The tsquery for ``terms`` (all must match, exclusions must not), or None when nothing is sought."""
    return TermsQuery(terms) if has_positive_terms(terms) else None


# Two fragments of 12-30 words, matches between START_SEL and STOP_SEL.
HEADLINE_OPTIONS = (
    f'StartSel="{START_SEL}", StopSel="{STOP_SEL}", MaxWords=30, MinWords=12, ShortWord=3, '
    'MaxFragments=2, FragmentDelimiter=" … "'
)

# A page's path below /docs/<version>/ (its ancestors' slugs and its own), climbed in the search
# statement itself for the rows shown: one round trip for the whole search. Same rules as
# selectors.documentation_paths.
PATH_SQL = """(
    WITH RECURSIVE up(id, slug, parent_id, version, depth) AS (
        SELECT "documentation"."id", "documentation"."slug", "documentation"."parent_id",
               "documentation"."version", 0
        UNION ALL
        SELECT d.id, d.slug, d.parent_id, d.version, up.depth + 1
        FROM "documentation" d JOIN up ON d.id = up.parent_id AND d.version = up.version
        WHERE up.depth < 50
    )
    SELECT string_agg(up.slug, '/' ORDER BY up.depth DESC) FROM up
)"""

# The search in one statement. Inside, the bare full-text query: match (GIN), rank, ORDER BY … LIMIT,
# carrying only what it sorts by (every match goes through that sort: a wider row, with the text and
# the tree columns, cost ~2–5 ms more for a word on half the pages). Outside, for the rows shown only,
# the headline (ts_headline parses a whole page) and the path. The headline reads the page's text
# after its title line (a title-only match shows the opening), its first HEADLINE_CHARS characters,
# with the marker characters removed so a page cannot fake a match. Written out, not composed with the
# ORM: building and compiling those expressions cost ~1.5 ms a search, more than the statement's own
# work for a rare word. {where}: which pages may be found (visibility, version).
SEARCH_SQL = """
SELECT "documentation"."id", "documentation"."title", "documentation"."version", hit."rank",
    ts_headline(%s::regconfig, translate(substr("documentation"."search_content",
        length("documentation"."title") + 2, %s), %s, ''), {query}, %s) AS "snippet",
    {path} AS "path"
FROM (
    SELECT "documentation"."id", "documentation"."title",
        ts_rank((%s)::float4[], "documentation"."search_vector", {query}) AS "rank"
    FROM "documentation"
    WHERE ({where}) AND "documentation"."search_vector" @@ {query}
    ORDER BY 3 DESC, 2 ASC, 1 ASC
    LIMIT %s
) AS hit
JOIN "documentation" ON "documentation"."id" = hit."id"
ORDER BY 4 DESC, 2 ASC, 1 ASC
"""


def _where(queryset) -> tuple[str, list]:
    """``queryset``'s WHERE clause (which pages may be found), compiled for SEARCH_SQL."""
    query = queryset.query
    if queryset.model is not Documentation or set(query.alias_map) - {Documentation._meta.db_table}:
        raise ValueError("The docs search filters Documentation by its own columns only.")
    try:
        sql, params = query.get_compiler(connection=connection).compile(query.where)
    except FullResultSet:
        return "TRUE", []
    return sql, list(params)


def _postgres_search(queryset, terms: list[Term], limit: int) -> list[dict]:
    if not has_positive_terms(terms):
        return []
    try:
        where, where_params = _where(queryset)
    except EmptyResultSet:
        return []
    query, query_params = tsquery_sql(terms)
    sql = SEARCH_SQL.format(query=query, where=where, path=PATH_SQL)
    params = [
        SEARCH_CONFIG,
        HEADLINE_CHARS,
        START_SEL + STOP_SEL,
        *query_params,
        HEADLINE_OPTIONS,
        RANK_WEIGHTS,
        *query_params,
        *where_params,
        *query_params,
        limit,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        {
            "pk": pk,
            "title": title,
            "version": version,
            "rank": rank,
            "snippet": snippet_html(snippet),
            "path": path,
        }
        for pk, title, version, rank, snippet, path in rows
    ]


def snippet_html(marked: str) -> SafeString:
    """ts_headline's output as HTML: everything escaped, the marked matches in ``<mark>``."""
    # Escaped whole, then split at the markers (which html.escape leaves alone): one escape per
    # snippet instead of one per piece, the same output.
    escaped = html.escape(_SPACES_RE.sub(" ", marked or "").strip())
    out, inside = [], False
    for piece in _MARKERS_RE.split(escaped):
        if piece == START_SEL:
            inside = True
        elif piece == STOP_SEL:
            inside = False
        elif piece:
            out.append(f"<mark>{piece}</mark>" if inside else piece)
    return mark_safe("".join(out))  # all the page text went through html.escape()


# --- SQLite (and any other database): the fallback ---------------------------------------------


def _crude_stem(word: str) -> str:
    """A stem short enough to be the start of the word's other forms (installs → install,
    libraries → librar, configured → configur, setting → set); at least three letters."""
    for ending in ("ations", "ation", "ies", "ings", "ing", "ed"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            stem = word[: -len(ending)]
            if (
                ending in ("ings", "ing", "ed")
                and len(stem) >= 4
                and stem[-1] == stem[-2]
                and stem[-1] not in "lsz"
            ):
                stem = stem[:-1]
            return stem
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _term_pattern(term: Term) -> re.Pattern:
    """Where a term occurs in text: each word as the start of a word, in a row; a stop word inside a
    phrase stands for any one word (as PostgreSQL counts the gap)."""
    words = list(term.words)
    while words and words[0] in STOP_WORDS:
        words.pop(0)
    while words and words[-1] in STOP_WORDS:
        words.pop()
    parts = []
    for word in words:
        if word in STOP_WORDS:
            parts.append(r"[^\W_]+")
        else:  # the stem starts the word's forms, and any word the half-typed one may become
            parts.append(re.escape(_crude_stem(word)) + r"[^\W_]*+")
    # Not inside a host name, an address or a path (agentwise.net, a@b.io, /api/me/): PostgreSQL's
    # parser keeps those whole, so a word within them is no match there either.
    return re.compile(
        r"(?<![^\W_])(?<![^\W_][.@/])" + r"[\W_]+".join(parts) + r"(?![.@/][^\W_])", re.IGNORECASE
    )


def fallback_snippet(text: str, patterns: list[re.Pattern]) -> SafeString:
    """The stretch of ``text`` around the first match, escaped, the matches in ``<mark>``."""
    text = re.sub(r"\s+", " ", text).strip()
    spans = sorted({m.span() for p in patterns for m in p.finditer(text)})
    first = spans[0][0] if spans else 0
    start = max(0, first - SNIPPET_CHARS // 3)
    if start:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 and start - space < 30 else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.find(" ", end)
        end = space if space != -1 and space - end < 30 else end
    out, cursor = [], start
    for left, right in spans:
        if left < cursor or right > end:
            continue
        out.append(html.escape(text[cursor:left]))
        out.append(f"<mark>{html.escape(text[left:right])}</mark>")
        cursor = right
    out.append(html.escape(text[cursor:end]))
    marked = "".join(out)
    return mark_safe(("… " if start else "") + marked + (" …" if end < len(text) else ""))  # all escaped


@dataclass(frozen=True)
class FallbackMatcher:
    """The terms of a query as regular expressions, for any model's fallback search: ``narrowing``
    names the stems a row must contain (for a case-blind SQL ``LIKE`` before the exact match), and
    ``rank`` matches the texts of one row, most important place first."""

    patterns: tuple[re.Pattern, ...]
    excluded: tuple[re.Pattern, ...]
    narrowing: tuple[str, ...]  # crude stems, ASCII only (LIKE is case-blind for ASCII only)

    @classmethod
    def for_terms(cls, terms: list[Term]) -> FallbackMatcher | None:
        """None when nothing is sought (no term, or exclusions alone)."""
        if not has_positive_terms(terms):
            return None
        positives = [t for t in terms if not t.exclude]
        stems = [_crude_stem(w) for t in positives for w in t.content_words]
        return cls(
            patterns=tuple(_term_pattern(t) for t in positives),
            excluded=tuple(_term_pattern(t) for t in terms if t.exclude),
            narrowing=tuple(dict.fromkeys(s for s in stems if s.isascii())),
        )

    def rank(self, places: list[str]) -> float | None:
        """None unless every term occurs in one of ``places`` and no excluded one in any; otherwise
        higher for each term's best place (100 in the first, 10 in the second, 1 later), then for how
        often the terms occur."""
        everything = "\n".join(places)
        if any(p.search(everything) for p in self.excluded):
            return None
        place_score, count = 0, 0
        for pattern in self.patterns:
            found = next((i for i, text in enumerate(places) if pattern.search(text)), None)
            if found is None:
                return None
            place_score += 100 if found == 0 else 10 if found == 1 else 1
            count += len(pattern.findall(everything))
        return place_score + count / (count + 1)

    def snippet(self, text: str) -> SafeString:
        return fallback_snippet(text, list(self.patterns))


def _fallback_search(queryset, terms: list[Term], limit: int) -> list[dict]:
    matcher = FallbackMatcher.for_terms(terms)
    if matcher is None:
        return []
    # Narrow in SQL (LIKE is case-blind for ASCII only, so only ASCII words narrow), then match exactly.
    for stem in matcher.narrowing:
        queryset = queryset.filter(search_content__icontains=stem)
    results = []
    for page in queryset.only("pk", "title", "version", "content").iterator():
        title = page.title
        rank = matcher.rank([title, blocks.headings_text(page.content), blocks.body_text(page.content)])
        if rank is not None:
            snippet = matcher.snippet(blocks.blocks_text(page.content))  # reading order
            results.append(
                {"pk": page.pk, "title": title, "version": page.version, "rank": rank, "snippet": snippet}
            )
    results.sort(key=lambda r: (-r["rank"], r["title"], str(r["pk"])))
    return results[:limit]


# --- both --------------------------------------------------------------------------------------


def documentation_matches(queryset, *, query: str, limit: int = DEFAULT_LIMIT) -> list[dict]:
    """The best ``limit`` pages of ``queryset`` for ``query``, best first: dicts of pk, title,
    version, rank (comparable within one database only), snippet (safe HTML) and, on PostgreSQL,
    path (the slugs below /docs/<version>/)."""
    terms = query_parse(query)
    limit = max(1, min(int(limit), MAX_LIMIT))
    if connection.vendor == "postgresql":
        return _postgres_search(queryset, terms, limit)
    return _fallback_search(queryset, terms, limit)


# --- the doors (API and page) ------------------------------------------------------------------

SEARCH_RATE = "60 per 10 seconds"


def search_rate_limit(request) -> None:
    """One budget per client (signed-in user, else address) shared by the page and the API: search
    is the costliest public read. 429 when spent; ``RATE_LIMITS["content.search"]`` overrides."""
    user = getattr(request, "user", None)
    who = f"user:{user.pk}" if user is not None and user.is_authenticated else f"ip:{client_ip(request)}"
    rate_limit_hit(
        "content.search",
        who,
        rate=settings.RATE_LIMITS.get("content.search", SEARCH_RATE),
        message="Searching too fast; try again in a few seconds.",
    )
