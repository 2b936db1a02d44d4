"""The API's own field rules agree with what the OpenAPI schema states and what the models accept."""

import re

import pytest
from django.core.validators import URLValidator
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError as ApiValidationError

from agentwise.api.fields import HTTP_URL_RE, HttpURLField, JSONObjectField, StrictIntegerField

PYTHON_STRIPPED_WHITESPACE = re.compile(r"^\s|\s$")


@settings(max_examples=500, deadline=None)
@given(st.from_regex(HTTP_URL_RE, fullmatch=True))
def test_every_url_the_schema_pattern_allows_passes_djangos_model_validator(url):
    # The API checks the pattern, then services run the model's URLValidator: it must never refuse.
    if PYTHON_STRIPPED_WHITESPACE.search(url) or len(url) > 500:
        return
    URLValidator()(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/agentwise/cli",
        "http://docs.example.co.uk:8080/a?b=c#d",
        "https://a.io",
        "HTTPS://Example.COM/",
        "https://my-bucket.s3.dualstack.us-east-1.amazonaws.com/a.png",
        "https://" + "p" * 63 + ".vercel.app/",
        "https://xn--mnchen-3ya.de/straße",
        "https://example.xn--p1ai/",
        "https://example.com./",
    ],
)
def test_ordinary_links_are_accepted(url):
    assert HttpURLField(max_length=500).run_validation(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)", "ftp://example.com", "https://localhost", "https://exa mple.com", "https://1.2.3.4/",
        "//example.com", "https://münchen.de", "https://a.io/x\u2028y", "https://-a.io",
    ],
)
def test_other_links_are_refused(url):
    with pytest.raises(ApiValidationError):
        HttpURLField(max_length=500).run_validation(url)


def test_an_integral_float_is_an_integer_as_json_schema_counts_it():
    field = StrictIntegerField()
    assert field.run_validation(5.0) == 5
    for bad in (5.5, "5", True):
        with pytest.raises(ApiValidationError):
            field.run_validation(bad)


def _nested(depth):
    value = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_json_objects_refuse_nul_anywhere_and_deep_nesting_without_recursing():
    field = JSONObjectField()
    assert field.run_validation({"a": [1, {"b": "ok"}]}) == {"a": [1, {"b": "ok"}]}
    assert field.run_validation(_nested(32)) == _nested(32)
    for bad in ({"\x00": 1}, {"a": "\x00"}, {"a": [{"b\x00": None}]}, {"a": "\udfff"}, {"\ud800": 1}, _nested(33), _nested(5000)):
        with pytest.raises(ApiValidationError):
            field.run_validation(bad)


@pytest.mark.parametrize("text, blank", [("\x1c", True), ("\x85 \u3000", True), ("\ufeff", False), (" x ", False)])
def test_the_not_blank_pattern_agrees_with_python_strip(text, blank):
    from agentwise.api.fields import NOT_BLANK

    assert (re.search(NOT_BLANK, text) is None) == blank == (text.strip() == "")
