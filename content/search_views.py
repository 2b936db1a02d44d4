"""The docs search page, ``/docs/search/?q=&version=`` (the API twin is ``content.api.search``)."""

from django.shortcuts import render

from . import search, selectors


def docs_search(request):
    """A form and the best matches. A search that cannot run shows why, with the API's status (400
    too long, 404 unknown version); an empty query shows the form alone."""
    query = request.GET.get("q", "").replace("\x00", "")
    version = request.GET.get("version", "").replace("\x00", "")
    versions = selectors.documentation_versions_cached(request.user)
    error, results, status = "", [], 200
    if len(query) > search.MAX_QUERY_LENGTH:
        error, status = f"A search can be at most {search.MAX_QUERY_LENGTH} characters long.", 400
    elif version and version not in versions:
        error, status = "There are no docs for this version.", 404
        version = ""
    version = version or (versions[0] if versions else "")
    if query.strip() and not error:
        search.search_rate_limit(request)
        results = selectors.documentation_search(query=query, version=version, user=request.user)
    context = {
        "query": query[: search.MAX_QUERY_LENGTH],
        "version": version,
        "versions": versions,
        "results": results,
        "error": error,
        "searched": bool(query.strip()) and not error,
        "max_length": search.MAX_QUERY_LENGTH,
    }
    return render(request, "content/docs/search.html", context, status=status)
