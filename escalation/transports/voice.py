"""Voice calls through Twilio: the alert is read out twice."""

from django.conf import settings
from requests import RequestException
from twilio.base.exceptions import TwilioException
from twilio.twiml.voice_response import VoiceResponse

from escalation import messages
from escalation.models import Notification
from escalation.transports import twilio_client
from escalation.transports.base import SendResult
from escalation.transports.twilio_errors import to_transport_error


def send(notification: Notification) -> SendResult:
    text = messages.voice(notification)
    twiml = VoiceResponse()
    twiml.say(text)
    twiml.pause(length=1)
    twiml.say(text)
    try:
        call = twilio_client.get_client().calls.create(
            to=notification.recipient, from_=settings.TWILIO_FROM_NUMBER, twiml=str(twiml)
        )
    except (TwilioException, RequestException) as error:
        raise to_transport_error(error) from error
    return SendResult(provider_ref=call.sid or "", subject="", body=text)
