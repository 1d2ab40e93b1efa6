import factory

from imports.models import ImportJob

CSV = b"Kundennummer;Name\r\nK-1;Mustermann\r\n"


class ImportJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportJob

    kind = ImportJob.Kind.CUSTOMERS
    status = ImportJob.Status.READY
    file_name = factory.Sequence(lambda n: f"kunden-{n}.csv")
    file_format = ImportJob.Format.CSV
    file_size = len(CSV)
    content = CSV
    sha256 = "0" * 64
    headers = ["Kundennummer", "Name"]
    mapping = {"0": "customer_number", "1": "name"}
    total_rows = 1
    counts = {"rows": 1, "create": 1, "update": 0, "unchanged": 0}
