"""stripe_emulator: see the package README."""
