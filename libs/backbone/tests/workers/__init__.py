"""Processes the backbone tests start, kill and restart."""
