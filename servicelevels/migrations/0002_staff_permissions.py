"""Data: office staff (Innendienst) see and work their care tasks (view, change)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from brokercrm.accounts.roles import STAFF_GROUP, STAFF_MODEL_PERMISSIONS


def _codenames():
    return [
        f"{action}_{model}"
        for model, actions in STAFF_MODEL_PERMISSIONS["servicelevels"].items()
        for action in actions
    ]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("servicelevels")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    staff, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    staff.permissions.add(
        *Permission.objects.filter(content_type__app_label="servicelevels", codename__in=_codenames())
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for staff in Group.objects.filter(name=STAFF_GROUP):
        staff.permissions.remove(
            *Permission.objects.filter(content_type__app_label="servicelevels", codename__in=_codenames())
        )


class Migration(migrations.Migration):
    dependencies = [
        ("servicelevels", "0001_initial"),
        ("customers", "0003_roles"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(grant, revoke)]
