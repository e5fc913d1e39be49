"""Pure reservation rules: statuses, holds, payment attempts and what each Stripe signal does."""
