"""devstack: see the package README."""
