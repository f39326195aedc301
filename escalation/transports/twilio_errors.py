"""Turning twilio's exceptions into TransportError."""

from twilio.base.exceptions import TwilioException, TwilioRestException

from escalation.transports.base import TransportError

# HTTP statuses from Twilio's API that retrying can fix.
TEMPORARY_STATUSES = {408, 429}


def to_transport_error(error: Exception) -> TransportError:
    if isinstance(error, TwilioRestException):
        permanent = 400 <= error.status < 500 and error.status not in TEMPORARY_STATUSES
        return TransportError(f"Twilio answered {error.status}: {error.msg}", permanent=permanent)
    if isinstance(error, TwilioException):
        return TransportError(f"Twilio error: {error}")
    return TransportError(f"could not reach Twilio: {error}")
