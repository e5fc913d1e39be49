"""The operators' `dlq` command: inspect, select and replay dead letters, with an audit trail."""
