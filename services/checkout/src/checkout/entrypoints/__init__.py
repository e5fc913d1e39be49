"""Entrypoints: one module per process (api, relay, migrate)."""
