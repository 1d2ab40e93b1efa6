"""The customer list sorts and searches names by a key: upper case with umlauts and ß spelled
out (DIN 5007, variant 2; customers.querysets.name_key), stored by the database with each
customer (name_key, first_name_key: generated columns) and compared bytewise.

- customer_name_key_idx gives the list sorted by name, and a search word at the start of a name
  as a range of it in that order: "Müller" (2.9 % of a book, all in one place of the alphabet)
  is a page of 50 rows read in order instead of 28,000 rows found and then sorted.
- customer_plz_region_name_idx: a PLZ area by name, now in that order.
- customer_name_key_rest_trgm_idx (PostgreSQL): trigrams of the key without its first letter,
  for a word inside a name; it replaces customer_name_trgm_idx (UPPER(name)), which the search
  no longer uses.

The expressions are written out here (frozen); customers.querysets builds the same ones.
"""

from django.db import migrations, models
from django.db.models import F, Value
from django.db.models.functions import Replace, Substr, Upper

from customers.querysets import Bytewise

SPELLED_OUT = (("Ä", "AE"), ("Ö", "OE"), ("Ü", "UE"), ("ä", "AE"), ("ö", "OE"), ("ü", "UE"))


def key(field: str):
    expression = Upper(Replace(field, Value("ß"), Value("ss")))
    for letter, spelled in SPELLED_OUT:
        expression = Replace(expression, Value(letter), Value(spelled))
    return expression


REST_INDEX = "customer_name_key_rest_trgm_idx"


def create_rest_index(apps, schema_editor):
    # Through a cursor, and idempotent: tests/conftest.py replays RunPython steps after a
    # flush. PostgreSQL only (SQLite, the demo database, scans, which is fine at its size).
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute("DROP INDEX IF EXISTS customer_name_trgm_idx")
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS {REST_INDEX} ON customers_customer "
            "USING gin ((SUBSTRING(name_key, 2)) gin_trgm_ops)"
        )


def drop_rest_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {REST_INDEX}")
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS customer_name_trgm_idx ON customers_customer "
            "USING gin (UPPER(name::text) gin_trgm_ops)"
        )


def generated_key(field: str):
    return models.GeneratedField(
        expression=key(field), output_field=models.TextField(), db_persist=True, editable=False
    )


class Migration(migrations.Migration):
    dependencies = [("customers", "0009_plz_region_index")]

    operations = [
        migrations.RemoveIndex(model_name="customer", name="customer_plz_region_name_idx"),
        migrations.AddField(model_name="customer", name="name_key", field=generated_key("name")),
        migrations.AddField(model_name="customer", name="first_name_key", field=generated_key("first_name")),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                Bytewise(F("name_key")), Bytewise(F("first_name_key")), "id", name="customer_name_key_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                Substr("postal_code", 1, 2),
                Bytewise(F("name_key")),
                Bytewise(F("first_name_key")),
                "id",
                name="customer_plz_region_name_idx",
            ),
        ),
        migrations.RunPython(create_rest_index, drop_rest_index),
    ]
