"""Keep Schedule.version moving with every change to what its layers and overrides compile to.

schedules.oncall keeps each schedule's compiled layers in memory, keyed by
(schedule, version), so a change anywhere (a page, the admin, another
process) must raise the version. Bulk writes send no signals: whoever makes
them calls `touch` (schedules.forms does).
"""

from django.db.models import F, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import User
from schedules.models import Override, Restriction, Rotation, RotationMember, Schedule


def touch(schedule_id: int) -> None:
    Schedule.objects.filter(pk=schedule_id).update(version=F("version") + 1)


@receiver(post_save, sender=Schedule)
def schedule_changed(sender, instance: Schedule, created: bool, **kwargs) -> None:
    """A new time zone changes how custom rules' dates are read."""
    if not created:
        touch(instance.pk)


@receiver([post_save, post_delete], sender=Override)
@receiver([post_save, post_delete], sender=Rotation)
def schedule_part_changed(sender, instance: Rotation | Override, **kwargs) -> None:
    touch(instance.schedule_id)


@receiver([post_save, post_delete], sender=RotationMember)
@receiver([post_save, post_delete], sender=Restriction)
def rotation_part_changed(sender, instance, **kwargs) -> None:
    schedule_id = (
        Rotation.objects.filter(pk=instance.rotation_id)
        .values_list("schedule_id", flat=True)
        .first()
    )
    if schedule_id is not None:
        touch(schedule_id)


@receiver(post_save, sender=User)
def user_changed(sender, instance: User, update_fields=None, **kwargs) -> None:
    """Layers and overrides leave inactive people out: (de)activating someone changes them."""
    if update_fields is not None and "is_active" not in update_fields:
        return
    Schedule.objects.filter(
        Q(rotations__members__user=instance)
        | Q(overrides__user=instance)
        | Q(overrides__replaces=instance)
    ).update(version=F("version") + 1)
