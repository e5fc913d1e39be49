"""notifier: see the package README."""
