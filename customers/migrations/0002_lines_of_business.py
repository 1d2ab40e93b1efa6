"""Data: the GDV Spartenverzeichnis as LineOfBusiness rows."""

from django.db import migrations

from customers.sparten import EXTRA_LINES, SPARTEN


def load(apps, schema_editor):
    LineOfBusiness = apps.get_model("customers", "LineOfBusiness")
    rows = [LineOfBusiness(code=c, name=n, short_name=s, gdv_code=c, is_gdv=True) for c, n, s in SPARTEN]
    rows += [LineOfBusiness(code=c, name=n, short_name=s, gdv_code=g, is_gdv=False) for c, n, s, g in EXTRA_LINES]
    LineOfBusiness.objects.bulk_create(rows, ignore_conflicts=True)


def unload(apps, schema_editor):
    LineOfBusiness = apps.get_model("customers", "LineOfBusiness")
    codes = [c for c, *_ in SPARTEN] + [c for c, *_ in EXTRA_LINES]
    LineOfBusiness.objects.filter(code__in=codes, contracts__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
