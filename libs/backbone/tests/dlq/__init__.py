"""Tests of the operators' `dlq` command on a real broker."""
