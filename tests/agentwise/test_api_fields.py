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
    ["https://github.com/agentwise/cli", "http://docs.example.co.uk:8080/a?b=c#d", "https://a.io"],
)
def test_ordinary_links_are_accepted(url):
    assert HttpURLField(max_length=500).run_validation(url) == url


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "ftp://example.com", "https://localhost", "https://exa mple.com", "https://1.2.3.4/", "//example.com"],
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


def test_json_objects_refuse_nul_anywhere():
    field = JSONObjectField()
    assert field.run_validation({"a": [1, {"b": "ok"}]}) == {"a": [1, {"b": "ok"}]}
    for bad in ({"\x00": 1}, {"a": "\x00"}, {"a": [{"b\x00": None}]}):
        with pytest.raises(ApiValidationError):
            field.run_validation(bad)
