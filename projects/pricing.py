"""What an execution cost, from the admin-editable model price table."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .models import ModelPrice


def execution_cost_micros(*, model: str, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> int:
    """Cost in micro-USD; 0 for an unknown or unnamed model (it is still metered in tokens)."""
    if not model:
        return 0
    price = ModelPrice.objects.filter(model__iexact=model).first()
    if price is None:
        return 0
    cached = min(cached_input_tokens, input_tokens)
    # Prices are USD per million tokens, so tokens x price is already in micro-USD.
    micros = (
        Decimal(input_tokens - cached) * price.input_per_mtok
        + Decimal(cached) * price.cached_input_per_mtok
        + Decimal(output_tokens) * price.output_per_mtok
    )
    return int(micros.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def micros_to_usd(micros: int) -> Decimal:
    return (Decimal(micros) / Decimal(1_000_000)).quantize(Decimal("0.000001"))
