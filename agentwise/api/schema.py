"""OpenAPI additions: the shared error schema on every operation, and the API-key security scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

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
