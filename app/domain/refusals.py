"""A pushed message the bridge refuses, with the answer its sender gets back."""


class Refused(Exception):
    """The message cannot be trusted or used; ``code`` is stable and safe to return to the sender."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
