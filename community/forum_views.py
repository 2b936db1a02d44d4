"""Forum pages: topic lists (all forums, one forum, by tag), a topic with its replies, the tags page, and
the forms that open a topic, reply and choose a solution.

Thin doors over the API's own pieces: reads through ``selectors`` (the same ``*_get_visible`` refusals,
so a private forum is a 404 to non-members here too), writes through ``services`` (their field errors
shown in the form, their refusals — a locked topic's 403 — rendered by ``RefusalMiddleware``), markdown
through ``community.markup``. Public forums are read by anyone, signed in or not (search engines
included; ``permissions.can_read_forum_channel``); what an anonymous visitor cannot see (a private forum,
an unknown id alike) and every form send them to sign in.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, Paginator
from django.http import HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from agentwise.access import can, require
from agentwise.errors import NotFound
from content.blocks import block_text
from content.search import MAX_QUERY_LENGTH, search_rate_limit
from content.seo import Seo, seo_for_page

from . import markup, permissions, selectors, services
from .models import (
    FORUM_TAG_PATTERN,
    MAX_FORUM_CONTENT_CHARS,
    MAX_FORUM_TAG_CHARS,
    MAX_FORUM_TITLE_CHARS,
    ForumPost,
)

TOPICS_PER_PAGE = 25
REPLIES_PER_PAGE = 30
ORDER_LABELS = {
    "activity": "Latest",
    "newest": "Newest",
    "top": "Top",
    "unanswered": "Unanswered",
    "solved": "Solved",
}
_TAG_RE = re.compile(FORUM_TAG_PATTERN)


# --- forms: they only parse; the services validate (one vocabulary) --------------------------------


class TopicForm(forms.Form):
    title = forms.CharField(max_length=MAX_FORUM_TITLE_CHARS)
    content = forms.CharField(
        label="Text",
        max_length=MAX_FORUM_CONTENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 12, "data-preview-source": ""}),
        help_text="Markdown. Fence code with a language (```python) to highlight it; @username links a profile.",
    )
    tags = forms.CharField(
        required=False, help_text="Up to 5, separated by commas or spaces: letters, digits and hyphens."
    )

    def clean_tags(self) -> list[str]:
        return [tag for tag in re.split(r"[\s,]+", self.cleaned_data["tags"]) if tag]


class ReplyForm(forms.Form):
    content = forms.CharField(
        label="Your reply",
        max_length=MAX_FORUM_CONTENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 6, "data-preview-source": ""}),
        help_text="Markdown; fenced code with a language is highlighted.",
    )


def _add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's field errors under the form's fields (others as form-wide errors)."""
    for field, messages in (
        error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    ).items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


def _sign_in_if_hidden(view):
    """An anonymous visitor refused a page (private or unknown alike) is asked to sign in, as the other
    pages do, rather than shown a 404 that a member would not get."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            if request.user.is_authenticated:
                raise
            return redirect_to_login(request.get_full_path())

    return wrapper


# --- query parameters -------------------------------------------------------------------------------


def _page_number(request) -> int:
    """``?page=`` as a positive number; anything else is a 404 rather than a silent page 1."""
    values = request.GET.getlist("page")
    if not values:
        return 1
    if len(values) > 1 or not re.fullmatch(r"[1-9][0-9]{0,5}", values[0]):
        raise NotFound()
    return int(values[0])


def _page(queryset, request, per_page: int):
    try:
        return Paginator(queryset, per_page).page(_page_number(request))
    except EmptyPage:
        raise NotFound() from None


def _list_filters(request) -> tuple[str, str | None, str]:
    """``?order=``, ``?tag=`` and ``?q=``, as the API's list accepts them; bad values are a 400 naming
    the field."""
    query = request.GET.get("q", "").replace("\x00", "")
    if len(query) > MAX_QUERY_LENGTH:
        raise ValidationError({"q": f"A search can be at most {MAX_QUERY_LENGTH} characters long."})
    order = request.GET.get("order") or "activity"
    if order not in selectors.FORUM_ORDERINGS:
        raise ValidationError({"order": f"One of: {', '.join(selectors.FORUM_ORDERINGS)}."})
    tag = request.GET.get("tag") or None
    if tag is not None and (len(tag) > MAX_FORUM_TAG_CHARS or not _TAG_RE.fullmatch(tag)):
        raise ValidationError({"tag": "Letters, digits and single hyphens, e.g. django-rest."})
    return order, tag.lower() if tag else None, query.strip()


def _description(text: str) -> str:
    return block_text({"type": "paragraph", "text": text})


# --- lists --------------------------------------------------------------------------------------------


def _topic_list(request, *, channel=None):
    order, tag, query = _list_filters(request)
    channel_id = channel.pk if channel else None
    if query:
        search_rate_limit(request)  # one budget with the API's search and the docs search
        topics = selectors.forum_post_search(user=request.user, q=query, channel_id=channel_id, tag=tag, order=order)
    else:
        topics = selectors.forum_post_list(user=request.user, channel_id=channel_id, tag=tag, order=order)
    page = _page(topics, request, TOPICS_PER_PAGE)
    path = request.path
    canonical = path + (f"?tag={tag}" if tag else "")
    if channel is not None:
        title, blurb = channel.name, channel.description or f"Topics in the {channel.name} forum."
    else:
        title, blurb = "Forum", "Questions and answers from the Agentwise community."
    if tag:
        title = f"{title}: topics tagged “{tag}”"
    if query:
        title = f"{title}: search for “{query}”"
    return render(
        request,
        "community/forum/list.html",
        {
            "title": title,
            "blurb": blurb,
            "seo": seo_for_page(
                title=title,
                description=blurb,
                path=canonical,
                noindex=bool(query or (channel and channel.is_private)),  # result pages are not content
            ),
            "channels": selectors.forum_channel_list_visible_to(user=request.user),
            "channel": channel,
            "can_post": channel is not None and can(request.user, "community.post_message", channel),
            "page": page,
            "order": order,
            "orders": ORDER_LABELS,
            "tag": tag,
            "query": query,
        },
    )


@require_safe
def forum_index(request):
    """Every forum the viewer can see, and the topics across them."""
    return _topic_list(request)


@require_safe
@_sign_in_if_hidden
def forum_channel(request, channel_id):
    return _topic_list(
        request, channel=selectors.forum_channel_get_visible(user=request.user, channel_id=channel_id)
    )


@require_safe
def forum_tags(request):
    tags = list(selectors.forum_tag_counts(user=request.user))
    return render(
        request,
        "community/forum/tags.html",
        {
            "tags": tags,
            "seo": seo_for_page(
                title="Forum tags",
                description="Every tag used in the forum, with its number of topics.",
                path=reverse("forum_tags"),
            ),
        },
    )


# --- a topic ------------------------------------------------------------------------------------------


def _topic_seo(post: ForumPost) -> Seo:
    return dataclasses.replace(
        seo_for_page(
            title=post.title,
            description=_description(post.content),
            path=post.get_absolute_url(),
            noindex=post.channel.is_private,
        ),
        type="article",
        published_time=post.created_at.isoformat(),
        modified_time=(post.edited_at or post.created_at).isoformat(),
        author=post.author.username if post.author else "",
        tags=tuple(post.tags),
    )


def _reply_url(post: ForumPost, reply, viewer) -> str:
    """The topic page holding this reply for ``viewer``, at its anchor."""
    number = selectors.forum_reply_position(reply=reply, viewer=viewer) // REPLIES_PER_PAGE + 1
    return post.get_absolute_url() + (f"?page={number}" if number > 1 else "") + f"#reply-{reply.pk}"


def _render_topic(request, post: ForumPost, *, form: ReplyForm, status: int = 200):
    page = _page(selectors.forum_replies(post=post, viewer=request.user), request, REPLIES_PER_PAGE)
    replies = list(page.object_list)
    for reply in replies:  # the topic (and its channel's membership answer) once, not once per reply
        reply.post = post
    reactions = selectors.forum_reaction_summaries(viewer=request.user, posts=[post], replies=replies)
    post_html, *replies_html = markup.forum_html_many(
        [post.content, *("" if r.deleted_at else r.content for r in replies)]
    )
    solution_url = None
    if post.solution_id:
        solution = next((r for r in replies if r.pk == post.solution_id), None)
        if solution:
            solution_url = f"#reply-{post.solution_id}"
        else:
            try:
                found = selectors.forum_reply_get_visible(user=request.user, reply_id=post.solution_id)
            except NotFound:  # a solution this reader may not see (held or shadowed by moderation)
                found = None
            solution_url = _reply_url(post, found, request.user) if found else None
    return render(
        request,
        "community/forum/topic.html",
        {
            "post": post,
            "post_html": post_html,
            "post_reactions": reactions[post.pk],
            "can": permissions.forum_post_capabilities(request.user, post),
            "rows": [
                {
                    "reply": r,
                    "html": h,
                    "reactions": reactions[r.pk],
                    "can": permissions.forum_reply_capabilities(request.user, r),
                }
                for r, h in zip(replies, replies_html, strict=True)
            ],
            "page": page,
            "solution_url": solution_url,
            "form": form,
            "seo": _topic_seo(post),
        },
        status=status,
    )


@require_safe
@_sign_in_if_hidden
def forum_topic(request, post_id, slug=None):
    """A topic and a page of its replies; counts the view (at most once an hour per viewer), as the API does.
    Any other slug than the title's answers a permanent redirect to the canonical URL."""
    post = selectors.forum_post_get_visible(user=request.user, post_id=post_id)
    if slug != post.slug:
        query = request.META.get("QUERY_STRING", "")
        return HttpResponsePermanentRedirect(post.get_absolute_url() + (f"?{query}" if query else ""))
    services.forum_post_view_count(viewer=request.user, post=post)
    return _render_topic(request, post, form=ReplyForm())


@require_POST
@login_required
def forum_reply_create(request, post_id):
    post = selectors.forum_post_get_visible(user=request.user, post_id=post_id)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            reply = services.forum_reply_create(
                actor=request.user, post=post, content=form.cleaned_data["content"]
            )
        except ValidationError as error:
            _add_service_errors(form, error)
        else:
            return redirect(_reply_url(post, reply, request.user))
    return _render_topic(request, post, form=form, status=400)


@require_POST
@login_required
def forum_solution(request, reply_id):
    """Marks (or, with ``action=unmark``, unmarks) a reply as its topic's solution: the topic's author or staff."""
    reply = selectors.forum_reply_get_visible(user=request.user, reply_id=reply_id)
    if request.POST.get("action") == "unmark":
        reply = services.forum_solution_unmark(actor=request.user, reply=reply)
    else:
        reply = services.forum_solution_mark(actor=request.user, reply=reply)
    return redirect(_reply_url(reply.post, reply, request.user))


# --- a new topic -----------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def forum_topic_create(request, channel_id):
    channel = selectors.forum_channel_get_visible(user=request.user, channel_id=channel_id)
    require(
        request.user,
        "community.post_message",
        channel,
        message="Only staff can open topics in this forum."
        if channel.is_locked
        else "This forum does not accept new topics.",
    )
    form = TopicForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                post = services.forum_post_create(actor=request.user, channel=channel, **form.cleaned_data)
            except ValidationError as error:
                _add_service_errors(form, error)
            else:
                return redirect(post.get_absolute_url())
    return render(
        request,
        "community/forum/new_topic.html",
        {
            "channel": channel,
            "form": form,
            "seo": seo_for_page(
                title=f"New topic in {channel.name}", description="", path=request.path, noindex=True
            ),
        },
        status=status,
    )
