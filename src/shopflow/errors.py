"""Errors meant for a person: the CLI prints them as one line, never a traceback."""


class ShopflowError(Exception):
    """A failure with a message that tells the user what to do."""
