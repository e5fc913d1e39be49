"""Benchmarks of the whole pipeline (issue 11): `python -m bench` (or `make bench`)."""
