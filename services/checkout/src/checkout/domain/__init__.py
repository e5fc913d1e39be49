"""The checkout domain: pricing an order and choosing a session's expiry, free of any I/O."""
