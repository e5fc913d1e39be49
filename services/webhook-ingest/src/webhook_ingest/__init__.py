"""webhook_ingest: see the package README."""
