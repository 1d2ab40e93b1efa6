"""Small reference data kept in this process for a while instead of being read for every
request (the Sparten, the advisors of the filter forms, ...).

A change saved in this process clears what is kept at once (post_save/post_delete signals,
connected by `connect`); other processes read it again within `seconds`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.db.models.signals import post_delete, post_save


class Kept:
    """What `read()` returns, kept for `seconds` (`make` turns it into what is kept)."""

    def __init__(
        self, read: Callable[[], Any], seconds: float, make: Callable[[Any], Any] = lambda value: value
    ):
        self.read = read
        self.seconds = seconds
        self.make = make
        self._kept: tuple[float, Any] | None = None

    def __call__(self):
        kept = self._kept
        if kept is None or time.monotonic() - kept[0] > self.seconds:
            kept = self._kept = (time.monotonic(), self.make(self.read()))
        return kept[1]

    def clear(self, **_signal_kwargs) -> None:
        self._kept = None


REGISTRY: list[tuple[str, Kept]] = []


def kept(read: Callable[[], Any], *, seconds: float, cleared_by: str, make=lambda value: value) -> Kept:
    """A Kept value, cleared whenever a row of the model `cleared_by` ("app_label.Model") is
    saved or deleted in this process."""
    value = Kept(read, seconds, make)
    REGISTRY.append((cleared_by, value))
    return value


def connect() -> None:
    """Connects every kept value to its model's signals (CustomersConfig.ready calls it)."""
    from django.apps import apps

    for model_name, value in REGISTRY:
        model = apps.get_model(model_name)
        post_save.connect(value.clear, sender=model, weak=False, dispatch_uid=f"kept-{id(value)}-save")
        post_delete.connect(value.clear, sender=model, weak=False, dispatch_uid=f"kept-{id(value)}-delete")


def clear_all() -> None:
    for _model, value in REGISTRY:
        value.clear()
