"""What the OpenAPI schema says about project requests, which one field rule cannot state."""


def document_invitation_target(result, generator, request, public):
    """An invitation names its invitee by username or by email: exactly one of the two."""
    invite = result.get("components", {}).get("schemas", {}).get("CollaboratorInviteRequest")
    if invite:
        invite["oneOf"] = [{"required": ["username"]}, {"required": ["email"]}]
    return result
