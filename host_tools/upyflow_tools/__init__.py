"""upyflow host tools: read, check, transform, plan and bake models for the device runtime."""

__version__ = "0.1.0"


class BakeError(Exception):
    """A model upyflow cannot bake; the message is one line for the user."""

    def __init__(self, message: str = "") -> None:
        # Names come from the model file: escape control characters (a newline in a damaged
        # tensor name) and cut runaway ones, so the message stays one readable line.
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message))
        super().__init__(text if len(text) <= 2500 else text[:2480] + "... (%d characters)" % len(text))
