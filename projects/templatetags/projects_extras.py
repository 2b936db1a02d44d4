from django import template

from ..pricing import micros_to_usd

register = template.Library()


@register.filter
def usd(micros) -> str:
    """Micro-USD as dollars: 39600 → "$0.0396"; whole cents for larger sums."""
    value = micros_to_usd(int(micros or 0))
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


@register.filter
def seconds(milliseconds) -> str:
    if milliseconds in (None, ""):
        return ""
    return f"{int(milliseconds) / 1000:.1f} s"
