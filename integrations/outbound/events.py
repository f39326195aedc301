"""Alert events to deliveries: which timeline entries are told, and to whom.

escalation.signals.alert_events announces every batch of timeline entries
inside the transaction that wrote them. `queue` turns the entries that
matter to the outside into one WebhookDelivery per matching webhook, in
that same transaction: a rolled-back acknowledgement leaves no delivery, a
committed one always has its delivery. After the commit the q cluster is
woken to send them; the rows are the queue of record, so a lost wake-up
only delays a delivery until the next minute's sweep.

Timeline entry kinds map to webhook events one to one (created,
acknowledged, assigned, resolved, note), except escalations. The engine
writes one "escalated" entry per person it pages, so a webhook "escalated"
event means "the escalation moved on", decided like this:

- at most one per alert per batch of entries (one firing of the engine,
  one action): paging Bob and Carol at step 2 is one event whose message
  names both;
- the first paging of an alert (round 1, step 1, first attempt) is not an
  escalation: a new alert is told as alert.created, an assigned one as
  alert.assigned, one re-opened by its acknowledgement timeout by its own
  escalated event; a maintenance window's hold ending changes nothing;
- a retry of the same step (its second or later attempt) pages the same
  people again and is not an escalation;
- "Escalate now" (an entry made by a person) is told at once, with who
  pressed it; the engine's paging of the step it made due, a moment later,
  is not told again. Such a step is recognised by the "Escalate now" entry
  on the alert's timeline at the instant the step was due;
- an acknowledged alert re-opened by its acknowledgement timeout is told.

Duplicates, notifications sent or failed, warnings and info entries are
not told.
"""

import logging
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django_q.tasks import async_task

from escalation.models import Alert, AlertEvent, AlertStatus, EventKind
from integrations.models import DeliveryStatus, OutboundWebhook, WebhookDelivery, WebhookEvent
from integrations.outbound import payloads

log = logging.getLogger(__name__)

KINDS = {
    EventKind.CREATED: WebhookEvent.CREATED,
    EventKind.ACKNOWLEDGED: WebhookEvent.ACKNOWLEDGED,
    EventKind.ASSIGNED: WebhookEvent.ASSIGNED,
    EventKind.ESCALATED: WebhookEvent.ESCALATED,
    EventKind.RESOLVED: WebhookEvent.RESOLVED,
    EventKind.NOTE: WebhookEvent.NOTE,
}
SWEEP_TASK = "integrations.outbound.delivery.sweep"
# The sweep stops starting new attempts well inside this (delivery.SWEEP_BUDGET_SECONDS).
SWEEP_TASK_TIMEOUT = 60


@dataclass
class Occurrence:
    """One webhook event: the timeline entries it stands for."""

    event: str
    entries: list[AlertEvent] = field(default_factory=list)

    @property
    def first(self) -> AlertEvent:
        return self.entries[0]


def is_escalation(entry: AlertEvent) -> bool:
    """Whether an "escalated" timeline entry is told as alert.escalated (see above).

    `entry.alert` is the alert as the writer read it before its change: for
    the engine, the position of the step it fired.
    """
    if entry.actor_id or entry.actor_label:
        return True  # Escalate now, by a person or a tool
    alert = entry.alert
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return True  # re-opened: acknowledged but not resolved in time
    if alert.attempt > 0:
        return False  # the same step's people paged again
    if alert.round == 0 and alert.step_index == 0:
        return False  # the first paging of a new, assigned or re-opened alert
    return not told_by_hand(alert)


def told_by_hand(alert: Alert) -> bool:
    """Whether "Escalate now" made this step due, and so told it already.

    Its timeline entry (with who pressed it) is at the instant it made the
    step due. One query, and only when the engine moves an alert to a later
    step: never on the ingest path.
    """
    if alert.next_action_at is None:
        return False
    by_hand = AlertEvent.objects.filter(
        alert_id=alert.pk, kind=EventKind.ESCALATED, at=alert.next_action_at
    ).exclude(actor__isnull=True, actor_label="")
    return by_hand.exists()


def occurrences(entries: list[AlertEvent]) -> list[Occurrence]:
    """The webhook events a batch of timeline entries makes, in order."""
    found: list[Occurrence] = []
    escalations: dict[int, Occurrence] = {}
    for entry in entries:
        event = KINDS.get(entry.kind)
        if event is None:
            continue
        if event == WebhookEvent.ESCALATED:
            if not is_escalation(entry):
                continue
            if entry.alert_id in escalations:
                escalations[entry.alert_id].entries.append(entry)
                continue
            escalations[entry.alert_id] = Occurrence(event, [entry])
            found.append(escalations[entry.alert_id])
            continue
        found.append(Occurrence(event, [entry]))
    return found


def subscribers() -> dict[int, tuple[set[str], set[int]]]:
    """Every enabled webhook: its events and its groups (empty: all), in one query."""
    found: dict[int, tuple[set[str], set[int]]] = {}
    rows = OutboundWebhook.objects.filter(enabled=True).values_list("pk", "events", "groups")
    for pk, events, group_id in rows:
        _, groups = found.setdefault(pk, (set(events or []), set()))
        if group_id is not None:
            groups.add(group_id)
    return found


def wants(subscription: tuple[set[str], set[int]], event: str, group_id: int) -> bool:
    events, groups = subscription
    return (not events or event in events) and (not groups or group_id in groups)


def deliveries_for(
    told: list[Occurrence], webhooks: dict[int, tuple[set[str], set[int]]]
) -> list[WebhookDelivery]:
    """The unsaved delivery rows: one per webhook event and webhook that wants it."""
    matched = [
        (occurrence, pk)
        for occurrence in told
        for pk, subscription in webhooks.items()
        if wants(subscription, occurrence.event, occurrence.first.alert.group_id)
    ]
    if not matched:
        return []
    alerts = Alert.objects.select_related(
        "group", "integration", "acknowledged_by", "resolved_by", "assigned_to"
    ).in_bulk({occurrence.first.alert_id for occurrence, _ in matched})
    documents: dict[int, dict] = {}
    rows = []
    for occurrence, webhook_id in matched:
        first = occurrence.first
        alert = alerts.get(first.alert_id)
        if alert is None:
            continue  # deleted in this same transaction: nothing left to tell
        if first.alert_id not in documents:
            documents[first.alert_id] = payloads.alert_document(alert)
        event_id = str(uuid.uuid4())
        actor = payloads.actor(first.actor if first.actor_id else None, first.actor_label)
        payload = payloads.document(
            event_id,
            occurrence.event,
            first.at,
            " ".join(entry.message for entry in occurrence.entries),
            actor,
            documents[first.alert_id],
        )
        rows.append(
            WebhookDelivery(
                webhook_id=webhook_id,
                event=occurrence.event,
                event_id=event_id,
                alert_id=alert.pk,
                payload=payload,
                status=DeliveryStatus.PENDING,
                next_attempt_at=first.at,
                created_at=first.at,
            )
        )
    return rows


def queue(entries: list[AlertEvent]) -> int:
    """Write the deliveries for `entries` in the caller's transaction; wake the sender
    after it commits. Returns how many were written.

    This runs on every alert change, so a batch that tells nothing costs no
    query and one with no enabled webhook costs one. A failure here must not
    undo the alert change itself (an acknowledgement or a new alert matters
    more than telling a ticketing system about it): the writes are rolled
    back to a savepoint, logged and noted on the alert's timeline.
    """
    told = occurrences(entries)
    if not told:
        return 0
    webhooks = subscribers()
    if not webhooks:
        return 0
    try:
        with transaction.atomic():
            rows = deliveries_for(told, webhooks)
            WebhookDelivery.objects.bulk_create(rows)
    except Exception as error:
        log.exception("could not queue outbound webhook deliveries")
        _warn(entries, error)
        return 0
    if rows:
        wake_after_commit()
    return len(rows)


def _warn(entries: list[AlertEvent], error: Exception) -> None:
    alert_ids = {entry.alert_id for entry in entries if entry.kind in KINDS}
    at = entries[0].at
    AlertEvent.objects.bulk_create(
        AlertEvent(
            alert_id=alert_id,
            kind=EventKind.WARNING,
            message=f"Outbound webhooks were not told of this change: {error!r}.",
            at=at,
        )
        for alert_id in alert_ids
    )


def wake() -> None:
    """Ask a q worker to send what is due now (a wake-up; the sweep is the backstop)."""
    async_task(
        SWEEP_TASK,
        task_name="outbound webhook deliveries",
        q_options={"timeout": SWEEP_TASK_TIMEOUT},
    )


def wake_after_commit() -> None:
    """One wake-up per transaction, however many batches it announced."""
    connection = transaction.get_connection()
    pending = getattr(connection, "run_on_commit", None) or []
    if any(len(item) > 1 and item[1] is wake for item in pending):
        return
    # robust: the event is committed by then; a broker that is down must not
    # turn the request that made it into an error (the sweep sends it anyway).
    transaction.on_commit(wake, robust=True)
