"""Event and topic contracts every service shares: topic registry, headers, versioned models."""
