"""Data: the roles Inhaber (owner) and Innendienst (office staff) with their permissions.

The owner additionally holds every permission through accounts.backends.RoleBackend, so
permissions of models added later reach the owner without a new migration; apps that add
models staff work with grant them to Innendienst in their own data migration.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from brokercrm.accounts.roles import OWNER_GROUP, STAFF_GROUP, STAFF_MODEL_PERMISSIONS


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    owner, _ = Group.objects.get_or_create(name=OWNER_GROUP)
    staff, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    owner.permissions.set(Permission.objects.all())
    codenames = [
        f"{action}_{model}"
        for model, actions in STAFF_MODEL_PERMISSIONS["customers"].items()
        for action in actions
    ]
    staff.permissions.add(
        *Permission.objects.filter(content_type__app_label="customers", codename__in=codenames)
    )


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[OWNER_GROUP, STAFF_GROUP]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0002_lines_of_business"),
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(create_roles, drop_roles)]
