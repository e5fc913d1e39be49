"""Pytest fixtures that start real infrastructure once per session (filled in by the foundation)."""
