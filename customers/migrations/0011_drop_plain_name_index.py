"""Customers are listed by their name key everywhere (CustomerQuerySet.by_name, the model's
default order), so the index on the plain name columns serves no query any more; the name-key
index (0010) takes its place."""

from django.db import migrations, models

from customers.querysets import Bytewise


class Migration(migrations.Migration):
    dependencies = [("customers", "0010_name_keys")]

    operations = [
        migrations.AlterModelOptions(
            name="customer",
            options={
                "ordering": [
                    models.OrderBy(Bytewise(models.F("name_key"))),
                    models.OrderBy(Bytewise(models.F("first_name_key"))),
                    models.OrderBy(models.F("id")),
                ],
                "verbose_name": "customer",
                "verbose_name_plural": "customers",
            },
        ),
        migrations.RemoveIndex(model_name="customer", name="customer_name_idx"),
    ]
