"""Adapters to the outside: database tables, repositories, Stripe, fact encoding."""
