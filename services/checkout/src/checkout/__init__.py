"""checkout: see the package README."""
