"""Random keys for integrations and other secrets shown in URLs."""

import secrets


def new_key(nbytes: int = 18) -> str:
    """A URL-safe random key (24 characters for the default 18 bytes)."""
    return secrets.token_urlsafe(nbytes)
