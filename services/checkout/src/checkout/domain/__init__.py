"""The checkout domain: pricing an order, a session's expiry, what is recorded; free of any I/O."""
