"""backbone: see the package README."""
