"""The one error type for mistakes a user can make (bad config, missing file, ...).

It lives in geometry/ because every stage depends on geometry; the CLI prints its message and
exits non-zero, while any other exception stays a traceback (a bug)."""


class DonkitError(Exception):
    """A user-facing error: the message says what went wrong, where, and what to do."""
