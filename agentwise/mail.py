"""Our own emails: one place that turns a template pair into a text + HTML message."""

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def templated_email(*, subject: str, template: str, context: dict, to: list[str]) -> EmailMultiAlternatives:
    """``template`` names the pair without extension: ``<template>.txt`` and ``<template>.html``."""
    message = EmailMultiAlternatives(subject=subject, body=render_to_string(f"{template}.txt", context), to=to)
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message
