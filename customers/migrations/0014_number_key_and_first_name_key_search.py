"""The search compares stored keys instead of upper-casing columns on the way: the first name
by its key (like the name: upper case, umlauts and ß spelled out; customers.querysets.name_key),
the number in upper case. Upper-casing the columns of every customer a search walks past cost
about as much as reading the customer (q=Müller sorted by revenue at 1,000,000 customers walks
past 5,000).

A new generated column number_key with customer_number_key_idx, which takes the place of
customer_number_upper_idx; on PostgreSQL the first name's trigram index moves from
UPPER(first_name) to first_name_key. Adding the column rewrites the customer table (about a
minute at 1,000,000 customers); run VACUUM (ANALYZE) customers_customer afterwards.
"""

from django.db import migrations, models
from django.db.models.functions import Upper

OLD = {
    "customer_first_name_trgm_idx": "USING gin (UPPER(first_name::text) gin_trgm_ops)",
    "customer_number_upper_idx": "(UPPER(number::text))",
}
NEW = {
    "customer_first_name_key_trgm_idx": "USING gin (first_name_key gin_trgm_ops)",
}


def _replace(schema_editor, drop: dict, create: dict) -> None:
    # Through a cursor, and idempotent: tests/conftest.py replays RunPython steps after a
    # flush. PostgreSQL only (SQLite, the demo database, scans, which is fine at its size).
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name in drop:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        for name, definition in create.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON customers_customer {definition}")


def use_keys(apps, schema_editor):
    _replace(schema_editor, OLD, NEW)


def use_upper(apps, schema_editor):
    _replace(schema_editor, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [("customers", "0013_covering_advisor_and_contract_line_indexes")]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="number_key",
            field=models.GeneratedField(
                expression=Upper("number"), output_field=models.TextField(), db_persist=True, editable=False
            ),
        ),
        migrations.AddIndex(
            model_name="customer", index=models.Index(fields=["number_key"], name="customer_number_key_idx")
        ),
        migrations.RunPython(use_keys, use_upper),
    ]
