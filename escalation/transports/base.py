"""The one contract every transport implements."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    provider_ref: str
    subject: str
    body: str


class TransportError(Exception):
    """A message could not be handed over. `permanent` means retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
