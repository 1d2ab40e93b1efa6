"""Data: office staff (Innendienst) record Fremdverträge and life-event adjustments and see the
class history; the owner holds every permission through the RoleBackend."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from brokercrm.accounts.roles import STAFF_GROUP

STAFF_PERMISSIONS = [
    "add_thirdpartycontract",
    "view_thirdpartycontract",
    "delete_thirdpartycontract",
    "add_potentialadjustment",
    "view_potentialadjustment",
    "delete_potentialadjustment",
    "view_potentialcomponent",
    "view_classchange",
    "view_classoverride",
]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("segmentation")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    staff, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    staff.permissions.add(
        *Permission.objects.filter(content_type__app_label="segmentation", codename__in=STAFF_PERMISSIONS)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    staff = Group.objects.filter(name=STAFF_GROUP).first()
    if staff:
        staff.permissions.remove(
            *Permission.objects.filter(content_type__app_label="segmentation", codename__in=STAFF_PERMISSIONS)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0003_nightly_schedule"),
        ("customers", "0003_roles"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
