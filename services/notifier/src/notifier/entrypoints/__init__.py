"""The notifier's processes: the worker (with its health and metrics server) and migrate."""
