"""Reading single values the way German spreadsheets write them.

Dates: 31.12.2026 (also 31.12.26, 2026-12-31 and real date cells from XLSX). Amounts:
1.234,56 or 1234,56 (German), 1234.56 (English), with or without "€". Every parser raises
`ValueProblem` with a reason a person can act on.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _


class ValueProblem(ValueError):
    """A cell that cannot be read; the message says why."""


class FileProblem(ValueError):
    """A file that cannot be read at all (encoding, size, structure); nothing is imported."""


_GERMAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_GROUPED_GERMAN = re.compile(r"^[+-]?\d{1,3}(?:\.\d{3})+$")
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def clean_text(value) -> str:
    """A cell as text: numbers without a trailing .0, whitespace trimmed, and the apostrophe
    an export puts before text that a spreadsheet would take for a formula removed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1] in _FORMULA_PREFIXES:
        text = text[1:]
    return text


def protect_text(text: str) -> str:
    """The export's counterpart of `clean_text`: text starting like a formula gets an apostrophe,
    so a spreadsheet shows it as text (CSV injection)."""
    if text and text[0] in _FORMULA_PREFIXES:
        return "'" + text
    return text


def parse_date(value) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = clean_text(value)
    if not text:
        return None
    match = _GERMAN_DATE.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        if len(match.group(3)) == 2:
            # Two-digit years: the later century unless that lies in the future.
            year += 2000 if year + 2000 <= dt.date.today().year else 1900
    else:
        match = _ISO_DATE.match(text)
        if not match:
            raise ValueProblem(_("“%(value)s” is not a date; write it as DD.MM.YYYY.") % {"value": text})
        year, month, day = (int(g) for g in match.groups())
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ValueProblem(
            _("“%(value)s” is not a valid date (there is no such day).") % {"value": text}
        ) from None


def parse_decimal(value, *, places: int = 2) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueProblem(_("“%(value)s” is not a number.") % {"value": value})
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
    else:
        text = clean_text(value)
        if not text:
            return None
        compact = text.replace("€", "").replace("EUR", "").replace("\u00a0", "").replace(" ", "")
        compact = compact.replace("'", "")  # Swiss grouping 1'234.50
        if "," in compact:
            compact = compact.replace(".", "").replace(",", ".")
        elif _GROUPED_GERMAN.match(compact):
            compact = compact.replace(".", "")
        if not _NUMBER.match(compact):
            raise ValueProblem(_("“%(value)s” is not a number.") % {"value": text})
        try:
            number = Decimal(compact)
        except InvalidOperation:
            raise ValueProblem(_("“%(value)s” is not a number.") % {"value": text}) from None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        quantized = number.quantize(Decimal(1).scaleb(-places))
        if quantized != number:
            raise ValueProblem(
                _("“%(value)s” has more than %(places)s decimal places.") % {"value": value, "places": places}
            )
        number = quantized
    return number.quantize(Decimal(1).scaleb(-places)) if places else number


def parse_int(value) -> int | None:
    number = parse_decimal(value, places=0)
    if number is None:
        return None
    return int(number)


_TRUE = {"1", "ja", "j", "yes", "y", "true", "wahr", "x", "✓"}
_FALSE = {"0", "nein", "n", "no", "false", "falsch", "-"}


def parse_bool(value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = normalize(clean_text(value))
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueProblem(_("“%(value)s” is not yes or no.") % {"value": clean_text(value)})


def normalize(text: str) -> str:
    """Lower case, umlauts spelt out, accents and punctuation dropped: "Kunden-Nr." -> "kundennr"."""
    text = text.strip().lower().replace("\ufeff", "")
    text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if ch.isalnum())


def decode_text(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) or Windows-1252; anything else is refused with the reason."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 1 and b"\x00" in data[:4096]):
        raise FileProblem(
            _(
                "The file is encoded as UTF-16 or is not a text file. Save it as CSV in UTF-8 "
                "or Windows-1252 (in Excel: “CSV UTF-8”)."
            )
        )
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise FileProblem(
            _(
                "The file is neither UTF-8 nor Windows-1252 (byte %(byte)s at position %(pos)s). "
                "Save it as CSV in UTF-8."
            )
            % {"byte": f"0x{data[exc.start]:02X}", "pos": exc.start + 1}
        ) from None
    return text, "cp1252"
