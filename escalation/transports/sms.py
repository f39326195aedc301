"""SMS through Twilio."""

from django.conf import settings
from requests import RequestException
from twilio.base.exceptions import TwilioException

from escalation import messages
from escalation.models import Notification
from escalation.transports import twilio_client
from escalation.transports.base import SendResult
from escalation.transports.twilio_errors import to_transport_error


def send(notification: Notification) -> SendResult:
    body = messages.sms(notification)
    try:
        message = twilio_client.get_client().messages.create(
            to=notification.recipient, from_=settings.TWILIO_FROM_NUMBER, body=body
        )
    except (TwilioException, RequestException) as error:
        raise to_transport_error(error) from error
    return SendResult(provider_ref=message.sid or "", subject="", body=body)
