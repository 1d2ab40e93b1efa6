"""Data: the GDV Sparte 000 for bundled contracts (Bündelvertrag).

A GDV file delivers a bundle as one 0200 record with Sparte 000 and the Bündelungskennzeichen
set; its parts follow as 0210/0220 records with their own Sparten. The CRM's
Spartenverzeichnis has no 000, so the import could not place such a contract at all."""

from django.db import migrations

CODE = "000"


def add(apps, schema_editor):
    LineOfBusiness = apps.get_model("customers", "LineOfBusiness")
    LineOfBusiness.objects.get_or_create(
        code=CODE,
        defaults={
            "name": "Bündelvertrag (mehrere Sparten in einem Vertrag)",
            "short_name": "Bündelvertrag",
            "gdv_code": CODE,
            "is_gdv": True,
        },
    )


def remove(apps, schema_editor):
    LineOfBusiness = apps.get_model("customers", "LineOfBusiness")
    LineOfBusiness.objects.filter(code=CODE, contracts__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("imports", "0001_initial"), ("customers", "0002_lines_of_business")]
    operations = [migrations.RunPython(add, remove)]
