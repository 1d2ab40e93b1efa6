"""python manage.py import_gdv FILE [--dry-run]"""

import pytest
from django.core.management import CommandError, call_command

from customers.models import Contract, Customer

from .gdv_writer import GdvContract, GdvFileWriter

pytestmark = pytest.mark.django_db


@pytest.fixture
def sample_file(tmp_path, gdv_sample):
    path = tmp_path / "musterdatei.txt"
    path.write_bytes(gdv_sample)
    return path


def test_dry_run_prints_the_preview_and_writes_nothing(sample_file, capsys):
    call_command("import_gdv", str(sample_file), "--dry-run")

    out = capsys.readouterr().out
    assert "14" in out and "4806.00/4806.00 ok" in out
    assert Contract.objects.count() == 0


def test_import_writes_the_contracts(sample_file, capsys):
    call_command("import_gdv", str(sample_file))

    assert Contract.objects.count() == 14
    assert Customer.objects.count() == 10
    call_command("import_gdv", str(sample_file))
    assert Contract.objects.count() == 14
    assert "0 new contracts" in capsys.readouterr().out


def test_a_rejected_file_exits_non_zero_with_its_errors(tmp_path, capsys):
    writer = GdvFileWriter()
    writer.contract(GdvContract(status="Z"))
    path = tmp_path / "kaputt.gdv"
    path.write_bytes(writer.build(total_cents=1))

    with pytest.raises(CommandError) as excinfo:
        call_command("import_gdv", str(path))

    assert excinfo.value.returncode == 1
    err = capsys.readouterr().err
    assert "line 4: 0200 Vertragsstatus (Pos. 69)" in err
    assert "9999 Gesamtbeitrag" in err
    assert Contract.objects.count() == 0


def test_an_unreadable_file_exits_with_status_2(tmp_path):
    path = tmp_path / "leer.gdv"
    path.write_bytes(b"")

    with pytest.raises(CommandError) as excinfo:
        call_command("import_gdv", str(path))

    assert excinfo.value.returncode == 2
