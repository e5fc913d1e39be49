"""Handling one fact: decode, plan, claim, send, settle."""
