"""Event and topic contracts every service shares: topic registry, header names, versioned models."""
