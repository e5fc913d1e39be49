"""Adapters: tables, repositories, and clients of Stripe and the reservation API."""
