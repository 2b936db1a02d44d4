"""Reference rows every installation starts with: model prices (staff edit them). Plan limits are billing's."""

STARTING_PRICES = [
    # model, input, output, cached input — USD per million tokens; starting values, edit in the admin.
    ("claude-opus-4", "15", "75", "1.5"),
    ("claude-sonnet-4", "3", "15", "0.3"),
    ("claude-haiku-4", "1", "5", "0.1"),
    ("gpt-4.1", "2", "8", "0.5"),
    ("gpt-4.1-mini", "0.4", "1.6", "0.1"),
    ("gpt-4o", "2.5", "10", "1.25"),
    ("gemini-2.5-pro", "1.25", "10", "0.31"),
]


def ensure_model_prices(model_price_model=None) -> None:
    """Creates missing rows, never overwriting staff edits. The model class may come from a migration."""
    if model_price_model is None:
        from .models import ModelPrice as model_price_model
    for model, input_price, output_price, cached_price in STARTING_PRICES:
        model_price_model.objects.get_or_create(
            model=model,
            defaults={"input_per_mtok": input_price, "output_per_mtok": output_price, "cached_input_per_mtok": cached_price},
        )
