"""Reading CSV and XLSX uploads into a tablib Dataset, and writing exports.

CSV: UTF-8 (with or without BOM) or Windows-1252, `;`, `,` or tab. XLSX: the first worksheet,
values only — a cell holding a formula is reported, because what Excel last computed for it
is not what the broker sees when the file is opened elsewhere. Every data row keeps its row
number in the file (the header is row 1), so errors point at the row a person sees.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal

import tablib
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from .parsing import FileProblem, decode_text, protect_text

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"
SAMPLE_ROWS = 5


@dataclass
class RowProblem:
    row: int
    column: str
    message: str
    value: str = ""

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}


@dataclass
class Table:
    headers: list[str]
    data: tablib.Dataset
    row_numbers: list[int]
    problems: list[RowProblem] = field(default_factory=list)
    encoding: str = ""
    delimiter: str = ""

    def __len__(self) -> int:
        return len(self.row_numbers)


def detect_format(content: bytes) -> str:
    if content.startswith(XLSX_MAGIC):
        return "xlsx"
    if content.startswith(XLS_MAGIC):
        raise FileProblem(
            _("This is an old Excel file (.xls). Save it as .xlsx or as CSV and upload it again.")
        )
    return "csv"


def read_table(content: bytes, file_format: str, *, limit: int | None = None) -> Table:
    """The header and the data rows; `limit` reads only the first rows (for the mapping step)."""
    if not content or not content.strip():
        raise FileProblem(_("The file is empty."))
    if file_format == "xlsx":
        return _read_xlsx(content, limit=limit)
    return _read_csv(content, limit=limit)


def guess_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ";"


def _read_csv(content: bytes, *, limit: int | None) -> Table:
    text, encoding = decode_text(content)
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = guess_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers: list[str] | None = None
    dataset = tablib.Dataset()
    numbers: list[int] = []
    problems: list[RowProblem] = []
    try:
        for record in reader:
            row_number = reader.line_num
            if headers is None:
                if not any(cell.strip() for cell in record):
                    continue
                headers = _trim_headers(record)
                dataset.headers = headers
                continue
            if not any(cell.strip() for cell in record):
                continue
            cells = _fit(record, len(headers), row_number, problems)
            if cells is None:
                continue
            dataset.append(cells)
            numbers.append(row_number)
            if limit is not None and len(numbers) >= limit:
                break
    except csv.Error as exc:
        raise FileProblem(
            _("The file cannot be read as CSV near line %(line)s: %(reason)s")
            % {"line": reader.line_num, "reason": exc}
        ) from None
    if headers is None:
        raise FileProblem(_("The file is empty."))
    if not numbers and not problems and limit != 0:
        raise FileProblem(_("The file has a header row but no data rows."))
    return Table(headers, dataset, numbers, problems, encoding=encoding, delimiter=delimiter)


def _read_xlsx(content: bytes, *, limit: int | None) -> Table:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise FileProblem(_("The file is not a readable XLSX workbook.")) from None
    try:
        sheet = workbook.worksheets[0]
        headers: list[str] | None = None
        dataset = tablib.Dataset()
        numbers: list[int] = []
        problems: list[RowProblem] = []
        for row_number, row in enumerate(sheet.iter_rows(), start=1):
            values = []
            for column_index, cell in enumerate(row):
                value = cell.value
                if getattr(cell, "data_type", None) == "f":
                    if headers is not None and column_index < len(headers):
                        column = headers[column_index] or get_column_letter(column_index + 1)
                    else:
                        column = get_column_letter(column_index + 1)
                    problems.append(
                        RowProblem(
                            row_number,
                            column,
                            _(
                                "Cell %(cell)s contains a formula. Save the workbook with values only "
                                "(copy, then paste as values)."
                            )
                            % {"cell": f"{get_column_letter(column_index + 1)}{row_number}"},
                            str(value),
                        )
                    )
                    value = None
                values.append(value)
            if headers is None:
                if not any(_filled(v) for v in values):
                    continue
                headers = _trim_headers(["" if v is None else str(v).strip() for v in values])
                dataset.headers = headers
                continue
            if not any(_filled(v) for v in values):
                continue
            cells = _fit(values, len(headers), row_number, problems)
            if cells is None:
                continue
            dataset.append(cells)
            numbers.append(row_number)
            if limit is not None and len(numbers) >= limit:
                break
    finally:
        workbook.close()
    if headers is None:
        raise FileProblem(_("The file is empty."))
    if not numbers and not problems and limit != 0:
        raise FileProblem(_("The file has a header row but no data rows."))
    return Table(headers, dataset, numbers, problems)


def _filled(value) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _trim_headers(cells: list) -> list[str]:
    headers = [str(c).replace("\ufeff", "").strip() if c is not None else "" for c in cells]
    while headers and not headers[-1]:
        headers.pop()
    if not headers:
        raise FileProblem(_("The first row holds no column names."))
    return headers


def _fit(cells: list, width: int, row_number: int, problems: list[RowProblem]) -> list | None:
    """Pads a short row; a row with values beyond the last named column is reported."""
    if len(cells) > width:
        extra = [c for c in cells[width:] if _filled(c)]
        if extra:
            problems.append(
                RowProblem(
                    row_number,
                    get_column_letter(width + 1),
                    _("The row has %(count)s cells but the header names only %(width)s columns.")
                    % {"count": len(cells), "width": width},
                    str(extra[0]),
                )
            )
            return None
        cells = cells[:width]
    elif len(cells) < width:
        cells = list(cells) + [""] * (width - len(cells))
    return list(cells)


# Export -------------------------------------------------------------------------------------


def dataset_to_csv(dataset: tablib.Dataset) -> bytes:
    """German CSV as Excel opens it: UTF-8 with BOM, `;`, decimal comma, dates DD.MM.YYYY."""
    formatted = tablib.Dataset(headers=dataset.headers)
    for row in dataset:
        formatted.append([_csv_value(v) for v in row])
    text = formatted.export("csv", delimiter=";", lineterminator="\r\n")
    return ("\ufeff" + text).encode("utf-8")


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, Decimal):
        return number_format(value, decimal_pos=2, use_l10n=False).replace(".", ",")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, int):
        return str(value)
    return protect_text(str(value))


def dataset_to_xlsx(dataset: tablib.Dataset, title: str) -> bytes:
    """Typed cells (dates, numbers); text is always stored as text, never as a formula."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    sheet.append([_text_cell(sheet, h) for h in dataset.headers])
    for row in dataset:
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def _text_cell(sheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=None)
    cell.value = value
    cell.data_type = "s"
    return cell


def _xlsx_cell(sheet, value):
    if value is None:
        return None
    if isinstance(value, bool):
        return _text_cell(sheet, _("yes") if value else _("no"))
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "#,##0.00"
        return cell
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "DD.MM.YYYY"
        return cell
    if isinstance(value, int):
        return value
    return _text_cell(sheet, str(value))
