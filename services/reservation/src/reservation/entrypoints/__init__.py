"""One module per process: api, worker, relay, migrate, reconcile."""
