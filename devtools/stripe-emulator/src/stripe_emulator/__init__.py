"""stripe_emulator: a local emulator of the part of Stripe's API this system uses (see README)."""

from stripe_emulator.app import create_app
from stripe_emulator.settings import EmulatorSettings, get_settings

__all__ = ["EmulatorSettings", "create_app", "get_settings"]
