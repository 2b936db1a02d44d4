"""OpenAPI additions: the shared error schema, the API-key security scheme, and the string rules
every DRF text field enforces, so a client (or a fuzzer) reading the schema knows what is accepted."""

from drf_spectacular import openapi
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension

from .fields import NO_NUL, NOT_BLANK, UUID

# What JSONObjectField's values refer to (its schema points here).
JSON_VALUE_SCHEMA = {
    "description": "Any JSON value; text anywhere in it has no NUL character.",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
        },
    ],
}


class AutoSchema(openapi.AutoSchema):
    """A view with ``partial_update_requires_fields = True`` documents its PATCH body as-is.

    drf-spectacular marks every PATCH body field optional, which is right for partial updates
    (``/api/me/``) and wrong for PATCHes that are actions (finishing an execution, editing a message).
    """

    def _get_request_for_media_type(self, serializer, direction="request"):
        if self.method == "PATCH" and getattr(self.view, "partial_update_requires_fields", False):
            self.method = "POST"
            try:
                return super()._get_request_for_media_type(serializer, direction)
            finally:
                self.method = "PATCH"
        return super()._get_request_for_media_type(serializer, direction)


def _is_free_text(schema: dict) -> bool:
    return schema.get("type") == "string" and not {"format", "enum", "pattern", "oneOf", "anyOf", "allOf"} & set(schema)


def _add_string_rules(schema: dict) -> None:
    """DRF's CharField refuses NUL characters always, and a blank (all-whitespace) value unless allow_blank.

    A UUID also gets its pattern: in OpenAPI 3.1 ``format`` is only an annotation, and a client
    reading it as one would send any string.
    """
    if _is_free_text(schema) and not schema.get("readOnly"):
        schema["pattern"] = NOT_BLANK if schema.get("minLength", 0) >= 1 else NO_NUL
    if schema.get("format") == "uuid" and "pattern" not in schema:
        schema["pattern"] = UUID
    for child in schema.get("properties", {}).values():
        _add_string_rules(child)
    if isinstance(schema.get("items"), dict):
        _add_string_rules(schema["items"])
    for variant in schema.get("oneOf", []):
        if variant.get("maxLength") != 0:
            _add_string_rules(variant)


def _drop_input_patterns(schema: dict) -> None:
    """Patterns are input rules; stored values may predate them (or come from the admin)."""
    for child in schema.get("properties", {}).values():
        child.pop("pattern", None)
        variants = child.get("oneOf", [])
        if any("pattern" in variant for variant in variants):
            child.pop("oneOf")
            child["type"] = "string"


def document_string_rules(result, generator, request, public):
    """Request bodies and text query parameters: no NUL characters; required text is not blank.

    A text filter (``?search=``) given empty or blank is refused (``StrictFilterSet``), so its
    parameter is documented as at least one non-blank character. ``JsonValue`` is what
    ``JSONObjectField`` values refer to.
    """
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["JsonValue"] = JSON_VALUE_SCHEMA
    for name, component in components.items():
        if name.endswith("Request"):
            _add_string_rules(component)
        else:
            _drop_input_patterns(component)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and _is_free_text(schema):
                    schema["minLength"] = 1
                    schema["pattern"] = NOT_BLANK
                elif schema.get("format") == "uuid" and "pattern" not in schema:
                    schema["pattern"] = UUID
    return result

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string", "example": "Some fields are invalid."},
                "fields": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Per-field messages (400 only).",
                },
                "retry_after": {"type": "integer", "description": "Seconds to wait (429 only)."},
            },
            "additionalProperties": True,
        }
    },
}

_DESCRIPTIONS = {
    "400": "Invalid input; `error.fields` names each bad field.",
    "401": "Missing, unknown, revoked or expired credentials.",
    "403": "Authenticated but not allowed (or CSRF token missing on a session write).",
    "404": "Not found, or not visible to you.",
    "405": "Method not allowed.",
    "402": "A plan limit or budget cap refuses this; `error.limit`, `error.current` and `error.upgrade_url` say which.",
    "409": "Conflicts with the current state (e.g. completing an execution twice).",
    "413": "Request body too large.",
    "415": "Unsupported media type.",
    "429": "Rate limited; see `Retry-After`.",
    "503": "A service this needs (Stripe, for billing) cannot be reached now; nothing changed. See `Retry-After`.",
}


def add_error_responses(result, generator, request, public):
    """Adds the error responses every operation can return, all sharing one schema."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            secured = operation.get("security") != [{}] and operation.get("security", None) != []
            codes = ["400", "404", "405", "429"]
            if method in {"post", "put", "patch"}:
                codes += ["413", "415"]
                if path.startswith("/api/projects/"):
                    codes += ["402", "409"]  # plan limits / budget caps; finished or reused executions
                if path.startswith("/api/billing/"):
                    codes += ["409", "503"]  # already subscribed / no billing account; Stripe unreachable
            if secured:
                codes += ["401", "403"]
            for code in codes:
                responses.setdefault(
                    code, {"description": _DESCRIPTIONS[code], "content": {"application/json": {"schema": ref}}}
                )
    return result


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "aw_<key>",
            "description": "A personal API key: `Authorization: Bearer aw_...`.",
        }


class LengthLimitedFilterExtension(DjangoFilterExtension):
    """Filter parameters also state their ``max_length`` (drf-spectacular leaves it out)."""

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)
        max_length = filter_field.extra.get("max_length")
        if max_length:
            for parameter in parameters:
                parameter["schema"]["maxLength"] = max_length
        return parameters


class ClosedSerializerExtension(OpenApiSerializerExtension):
    """A ``ClosedSerializer`` refuses keys it does not declare: its schema says so."""

    target_class = "agentwise.api.fields.ClosedSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema
