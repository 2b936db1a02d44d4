"""tests/pages.py, behind the no-CDN checks: what a page makes the browser fetch, read from its tags."""

from tests.pages import fetched_urls, foreign_fetches


def test_foreign_fetches_are_read_from_the_tags_not_the_text():
    html = """<html><head>
      <link rel="stylesheet" href="/static/css/site.css"><link rel="canonical" href="https://agentwise.example/">
      <link rel="preconnect" href="https://fonts.example">
      <script src="https://cdn.example/lib.js"></script><script src="//cdn.example/scheme-relative.js"></script>
      <style>@import "https://css.example/a.css"; body { background: url('/static/img/bg.png') }</style>
    </head><body>
      <input type="hidden" name="csrfmiddlewaretoken" value="xcdnQ9unpkgZjsdelivr">
      <p>Served without a CDN.</p><a href="https://github.com/a/b">repo</a>
      <img src="data:image/png;base64,AAAA" srcset="/a.png 1x, https://img.example/a@2x.png 2x">
      <div style="background-image: url(http://testserver/static/img/x.png)"></div>
    </body></html>"""
    assert foreign_fetches(html) == [
        "https://fonts.example",
        "https://cdn.example/lib.js",
        "//cdn.example/scheme-relative.js",
        "https://css.example/a.css",
        "https://img.example/a@2x.png",
    ]
    assert "/static/css/site.css" in fetched_urls(html) and "https://github.com/a/b" not in fetched_urls(html)


def test_a_page_of_its_own_assets_has_no_foreign_fetches():
    html = '<link rel="icon" href="/static/img/favicon.svg"><script type="module" src="/static/js/community.js"></script>'
    assert fetched_urls(html) == ["/static/img/favicon.svg", "/static/js/community.js"]
    assert foreign_fetches(html) == []
