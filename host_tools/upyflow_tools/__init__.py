"""upyflow host tools: read, check, transform, plan and bake models for the device runtime."""

__version__ = "0.1.0"


class BakeError(Exception):
    """A model upyflow cannot bake; the message is one line for the user."""
