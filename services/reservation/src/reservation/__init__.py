"""reservation: see the package README."""
