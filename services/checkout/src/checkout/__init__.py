"""checkout: turns a user's pending reservations and cart items into a Stripe Checkout Session."""
