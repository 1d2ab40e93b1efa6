"""Exports in the import's column layout: CSV (German) and XLSX, so that an export re-imports
cleanly (customers by number, contracts by insurer + policy number, bookings by their key)."""

from __future__ import annotations

from collections.abc import Mapping

import tablib
from django.utils import timezone

from .layouts import LAYOUTS
from .selectors import EXPORT_VALUES, export_rows
from .tabular import dataset_to_csv, dataset_to_xlsx

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def export_dataset(*, kind: str, params: Mapping | None = None) -> tablib.Dataset:
    columns = LAYOUTS[kind]
    assert [c.key for c in columns] == list(EXPORT_VALUES[kind]), "layout and export columns differ"
    dataset = tablib.Dataset(headers=[str(c.label) for c in columns], title=kind)
    for row in export_rows(kind=kind, params=params or {}):
        dataset.append(list(row))
    return dataset


def export_file(*, kind: str, file_format: str, params: Mapping | None = None) -> tuple[bytes, str]:
    """(content, file name) of an export."""
    dataset = export_dataset(kind=kind, params=params)
    content = dataset_to_xlsx(dataset, kind) if file_format == "xlsx" else dataset_to_csv(dataset)
    return content, f"{kind}-{timezone.localdate():%Y-%m-%d}.{file_format}"
