"""Errors meant for a person: the CLI prints them as one line, never a traceback."""


class ShopflowError(Exception):
    """A failure with a message that tells the user what to do."""


class PermanentError(ShopflowError):
    """A failure that repeats on every try: bad input, rejected credentials, a broken contract.

    The task fails at once without spending its retries (``shopflow.tasks.failures``);
    anything else (timeouts, dropped connections, 429, 5xx) is retried with backoff.
    """
