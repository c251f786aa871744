"""One error type for everything a user can fix; the CLI prints it as one line."""


class NotebotError(Exception):
    """A problem the user can act on: `message` says what is wrong, `hint` what to do."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class OutdatedIndex(NotebotError):
    """An index an older notebot wrote: a plain `notebot index` rewrites it from the embedding cache."""
