from escalation import engine, ticker
from escalation.models import Alert, Notification
from tests.conftest import T0, am_alert, am_payload, post_json


def test_alertmanager_alert_pages_primary(client, alertmanager, alice):
    response = post_json(client, alertmanager, am_payload(am_alert("fp1")))
    assert response.status_code == 202, response.content
    alert = Alert.objects.get()
    assert engine.run_due(T0.replace(year=2030)) == 1
    notification = Notification.objects.get()
    assert notification.user == alice
    ticker.tick(T0.replace(year=2030))
    notification.refresh_from_db()
    assert notification.status == "sent", notification.error
    assert alert.events.filter(kind="notified").exists()
