"""Content blocks: validation names the bad block; rendering never lets a script or javascript: link through."""

from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError

from content import blocks

ATTACKS = [
    "<script>alert(1)</script>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    '<img src=x onerror="alert(1)">',
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '"><svg onload=alert(1)>',
]


def _every_block_carrying(attack: str) -> list[dict]:
    return [
        {"type": "paragraph", "text": attack},
        {"type": "heading", "text": attack.replace("\n", " ")[:255], "level": 3},
        {"type": "code", "language": "html", "text": attack},
        {"type": "image", "url": "https://example.com/a.png", "alt": attack, "caption": attack},
        {"type": "quote", "text": attack, "attribution": attack},
        {"type": "callout", "text": attack, "style": "warning"},
        {"type": "embed", "url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "caption": attack},
    ]


class _Elements(HTMLParser):
    """Every element and attribute a browser would build from the markup."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))


def _elements(markup: str) -> list[tuple[str, dict]]:
    parser = _Elements()
    parser.feed(markup)
    return parser.elements


@pytest.mark.parametrize("attack", ATTACKS)
def test_no_block_type_renders_a_script_or_javascript_link(attack):
    elements = _elements(blocks.render_blocks(blocks.clean_blocks(_every_block_carrying(attack))))
    assert elements, "the blocks rendered"
    for tag, attrs in elements:
        assert tag not in {"script", "svg", "object", "style", "form", "input"}
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src"):
            url = attrs.get(name, "").strip().lower()
            assert not url.startswith(("javascript:", "data:", "vbscript:")), (tag, attrs)
        if tag == "iframe":
            assert attrs["src"].startswith("https://www.youtube-nocookie.com/embed/")


def test_attribute_breakouts_stay_inside_their_attribute():
    html = blocks.render_blocks(
        [{"type": "image", "url": "https://example.com/a.png", "alt": '" onerror="alert(1)'}]
    )
    assert 'alt="&quot; onerror=&quot;alert(1)"' in html


def test_image_and_embed_urls_must_be_safe():
    with pytest.raises(ValidationError) as error:
        blocks.clean_blocks(
            [
                {"type": "image", "url": "javascript:alert(1)", "alt": "x"},
                {"type": "embed", "url": "https://evil.example/watch?v=1"},
                {"type": "embed", "url": "http://www.youtube.com/watch?v=dQw4w9WgXcQ"},
            ]
        )
    assert error.value.messages == [
        "Block 1 (image): “url” must be an http(s) URL or a site path.",
        "Block 2 (embed): “url” must be an https link to one of: youtube, vimeo, loom, asciinema.",
        "Block 3 (embed): “url” must be an https link to one of: youtube, vimeo, loom, asciinema.",
    ]


def test_embeds_are_rebuilt_from_the_id_not_the_given_url():
    html = blocks.render_blocks(
        [{"type": "embed", "url": "https://youtu.be/dQw4w9WgXcQ?x=%22%3E%3Cscript%3E"}]
    )
    assert [attrs["src"] for tag, attrs in _elements(html) if tag == "iframe"] == [
        "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a list", "Content must be a list of blocks."),
        ([{"text": "x"}], "Block 1: needs a “type”."),
        ([{"type": "paragraph"}], "Block 1 (paragraph): “text” is required."),
        ([{"type": "heading", "text": "x", "level": 1}], "Block 1 (heading): “level” must be 2, 3 or 4."),
        ([{"type": "heading", "text": "x", "level": True}], "Block 1 (heading): “level” must be 2, 3 or 4."),
        (
            [{"type": "code", "language": "py thon", "text": "x"}],
            "Block 1 (code): “language” must be a name such as python, bash or c++.",
        ),
        ([{"type": "image", "url": "https://e.com/a.png"}], "Block 1 (image): “alt” is required."),
        (
            [{"type": "callout", "text": "x", "style": "loud"}],
            "Block 1 (callout): “style” must be one of info, tip, warning, danger.",
        ),
        (
            [{"type": "paragraph", "text": "ok"}, {"type": "video"}],
            "Block 2 (video): unknown type “video”; use one of paragraph, heading, code, image, quote, callout, embed.",
        ),
        ([{"type": "paragraph", "text": 5}], "Block 1 (paragraph): “text” must be a string."),
    ],
)
def test_validation_names_the_bad_block(value, message):
    with pytest.raises(ValidationError) as error:
        blocks.clean_blocks(value)
    assert error.value.messages == [message]


def test_every_block_type_renders():
    html = blocks.render_blocks(
        [
            {"type": "paragraph", "text": "Some **bold** and a [link](https://example.com)."},
            {"type": "heading", "text": "Set up", "level": 2},
            {"type": "heading", "text": "Set up", "level": 3},
            {"type": "code", "language": "python", "text": "print('<hi>')"},
            {"type": "image", "url": "/static/a.png", "alt": "A chart", "caption": "Tokens saved"},
            {"type": "quote", "text": "Measure it.", "attribution": "Ops"},
            {"type": "callout", "text": "Careful", "style": "danger"},
            {"type": "embed", "url": "https://vimeo.com/123456"},
        ]
    )
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer">link</a>' in html
    assert '<h2 id="set-up">' in html and '<h3 id="set-up-2">' in html
    assert '<code class="language-python" data-language="python">print(&#x27;&lt;hi&gt;&#x27;)</code>' in html
    assert 'alt="A chart"' in html and "<figcaption>Tokens saved</figcaption>" in html
    assert "<footer>— Ops</footer>" in html
    assert 'class="callout callout-danger"' in html
    assert 'src="https://player.vimeo.com/video/123456"' in html


def test_reading_time_and_excerpt_are_derived():
    text = " ".join(["word"] * 550)
    body = [{"type": "paragraph", "text": text}, {"type": "image", "url": "/a.png", "alt": "x"}] + [
        {"type": "image", "url": "/b.png", "alt": "y"}
    ] * 4
    assert blocks.reading_time_minutes(body) == 3  # 2 minutes of words + 5 images × 12 s
    assert blocks.reading_time_minutes([{"type": "paragraph", "text": "short"}]) == 1
    excerpt = blocks.excerpt_from(body)
    assert len(excerpt) <= 281 and excerpt.endswith("…")


def test_markdown_becomes_heading_paragraph_and_code_blocks_and_back():
    source = "# Install\n\nRun this:\n\n```bash\npip install agentwise\n```\n\n## Next\n\n- one\n- two\n"
    parsed = blocks.blocks_from_markdown(source)
    assert parsed == [
        {"type": "heading", "text": "Install", "level": 2},
        {"type": "paragraph", "text": "Run this:"},
        {"type": "code", "language": "bash", "text": "pip install agentwise"},
        {"type": "heading", "text": "Next", "level": 2},
        {"type": "paragraph", "text": "- one\n- two"},
    ]
    assert blocks.blocks_from_markdown(blocks.blocks_to_markdown(parsed)) == parsed


# --- highlighted code (forum markdown) ---------------------------------------------------------


def test_highlight_colours_fenced_code_and_keeps_it_escaped():
    html = blocks.render_markdown("```python\nprint('</code><script>alert(1)</script>')\n```", highlight=True)
    assert html.startswith('<pre class="highlight"><code class="language-python"><span class="nb">print</span>')
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    tags = {tag for tag, _ in _elements(html)}
    assert tags <= {"pre", "code", "span"}


def test_highlight_leaves_unknown_languages_and_plain_markdown_alone():
    html = blocks.render_markdown("```nolanguage\n<b>x</b>\n```\n\n**bold** <span class=\"k\">raw</span>", highlight=True)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and '<pre class="highlight">' not in html
    assert "<strong>bold</strong>" in html and '<span class="k">' not in html  # raw HTML stays text


def test_highlight_allow_list_keeps_only_the_highlighters_class_shapes():
    markup = ('<pre class="highlight evil"><code class="language-python" onclick="x()">'
              '<span class="k" style="color:red">a</span><span class="not-a-token-class">b</span></code></pre>'
              '<p class="lead">c</p><a class="mention" href="https://e.example">d</a>')
    cleaned = blocks.sanitize_html(markup, code_classes=True)
    assert '<pre><code class="language-python"><span class="k">a</span><span>b</span></code></pre>' in cleaned
    assert "onclick" not in cleaned and "style" not in cleaned
    assert '<p>c</p>' in cleaned and 'class="mention"' not in cleaned


def test_default_rendering_is_unchanged_for_existing_callers():
    html = blocks.render_markdown("```python\nx = 1\n```")
    assert html == "<pre><code>x = 1\n</code></pre>\n"
