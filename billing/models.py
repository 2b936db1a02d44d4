"""Plans and Stripe subscriptions (dj-stripe)."""
