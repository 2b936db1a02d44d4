"""What the OpenAPI schema says about message content, which one field rule cannot state."""

from agentwise.api.fields import NO_NUL, NOT_BLANK

from ..models import MAX_MESSAGE_CHARS


def document_message_content(result, generator, request, public):
    """Content must not be blank, unless the message carries attachments (an image with no caption)."""
    schemas = result.get("components", {}).get("schemas", {})
    create, edit = schemas.get("MessageCreateRequest"), schemas.get("MessageEditRequest")
    if create:
        create["properties"]["content"] = {"type": "string", "maxLength": MAX_MESSAGE_CHARS, "pattern": NO_NUL,
                                           "description": "Not blank, unless `attachments` are given."}
        create["anyOf"] = [
            {"properties": {"content": {"pattern": NOT_BLANK}}},
            {"properties": {"attachments": {"minItems": 1}}, "required": ["attachments"]},
        ]
    if edit:
        edit["properties"]["content"] = {
            "type": "string", "maxLength": MAX_MESSAGE_CHARS, "pattern": NOT_BLANK,
            "description": "Not blank (a message with attachments may be emptied).",
        }
    return result
