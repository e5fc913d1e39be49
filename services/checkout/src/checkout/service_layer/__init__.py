"""Use cases of the checkout service: create a session, read one back."""
