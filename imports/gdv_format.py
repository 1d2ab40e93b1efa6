"""GDV-Datensatz VU-Vermittler: reading the records of a file and checking its own totals.

Glossary: Satzart = record type (0001 Vorsatz = header, 0100 Adressteil = a person,
0200 Allgemeiner Vertragsteil = a contract, 9999 Nachsatz = trailer with the totals);
Teildatensatz = the n-th 256-character part of a record (position 256); Sparte = GDV
line-of-business code; VU-Nummer = the insurer's number; VsNr = Versicherungsschein-Nummer
(policy number); Folgenummer = sequence number of a contract under the same VsNr.

Format: ISO-8859-1, 256 characters plus a line end per record; field positions below are
1-based and inclusive (GDV VUVM layout, Stand 01.12.2023); dates TTMMJJJJ with 00 for an
unknown part; amounts with implied decimals.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from .parsing import FileProblem

RECORD_LENGTH = 256
ENCODING = "iso-8859-1"


@dataclass(frozen=True)
class Field:
    start: int
    end: int
    name: str
    decimals: int = 0

    def read(self, text: str) -> str:
        return text[self.start - 1 : self.end]

    def label(self, satzart: str) -> str:
        where = f"{self.start}" if self.start == self.end else f"{self.start}–{self.end}"
        return f"{satzart} {self.name} (Pos. {where})"


# The first seven fields of every record (and the Teildatensatz number in position 256).
SATZART = Field(1, 4, "Satzart")
VU_NUMMER = Field(5, 9, "VU-Nummer")
BUENDELUNGSKENNZEICHEN = Field(10, 10, "Bündelungskennzeichen")
SPARTE = Field(11, 13, "Sparte")
VS_NR = Field(14, 30, "Versicherungsschein-Nummer")
FOLGE_NR = Field(31, 32, "Folgenummer")
TEILDATENSATZ = Field(256, 256, "Teildatensatz")

# 0001 Vorsatz, Teildatensatz 1.
VORSATZ_VU_NUMMER = Field(5, 9, "VU-Nummer")
VORSATZ_ABSENDER = Field(10, 39, "Absender")
VORSATZ_ADRESSAT = Field(40, 69, "Adressat")
VORSATZ_ZEITRAUM = Field(70, 85, "Erstellungs-Datum, Zeitraum vom, Zeitraum bis")

# 0100 Adressteil, Teildatensatz 1.
ANREDE = Field(43, 43, "Anredeschlüssel")
NAME1 = Field(44, 73, "Name 1")
NAME2 = Field(74, 103, "Name 2")
NAME3 = Field(104, 133, "Name 3")
TITEL = Field(134, 153, "Titel")
LKZ = Field(154, 156, "Länderkennzeichen")
PLZ = Field(157, 162, "Postleitzahl")
ORT = Field(163, 187, "Ort")
STRASSE = Field(188, 217, "Straße")
GEBURTSDATUM = Field(226, 233, "Geburtsdatum")
ADRESSKENNZEICHEN = Field(237, 238, "Adresskennzeichen")
# 0100 Adressteil, Teildatensatz 2.
KUNDENNR_VU = Field(43, 59, "Personen-/Kundennummer des Versicherers")
KUNDENNR_VM = Field(60, 76, "Personen-/Kundennummer des Vermittlers")
KOMMUNIKATION_TD2 = (
    (Field(157, 158, "Kommunikationstyp 1"), Field(159, 178, "Kommunikationsnummer 1")),
    (Field(179, 180, "Kommunikationstyp 2"), Field(181, 200, "Kommunikationsnummer 2")),
    (Field(201, 202, "Kommunikationstyp 3"), Field(203, 222, "Kommunikationsnummer 3")),
    (Field(223, 224, "Kommunikationstyp 4"), Field(225, 244, "Kommunikationsnummer 4")),
)
FAMILIENSTAND = Field(246, 246, "Familienstand")
# 0100 Adressteil, Teildatensatz 3.
KOMMUNIKATION_TD3 = (
    (Field(43, 44, "Kommunikationstyp 5"), Field(45, 104, "Kommunikationsnummer 5")),
    (Field(105, 106, "Kommunikationstyp 6"), Field(107, 166, "Kommunikationsnummer 6")),
    (Field(167, 168, "Kommunikationstyp 7"), Field(169, 228, "Kommunikationsnummer 7")),
)

# 0200 Allgemeiner Vertragsteil, Teildatensatz 1.
VERTRAGSBEGINN = Field(44, 51, "Vertragsbeginn")
VERTRAGSABLAUF = Field(52, 59, "Vertragsablauf")
HAUPTFAELLIGKEIT = Field(60, 67, "Hauptfälligkeit")
ZAHLUNGSWEISE = Field(68, 68, "Zahlungsweise")
VERTRAGSSTATUS = Field(69, 69, "Vertragsstatus")
WAEHRUNG = Field(113, 115, "Währungsschlüssel")
GESAMTBEITRAG_NETTO = Field(116, 127, "Gesamtbeitrag (Netto)", decimals=2)

# 9999 Nachsatz.
ANZAHL_SAETZE = Field(5, 14, "Anzahl der Sätze")
NACHSATZ_GESAMTBEITRAG = Field(25, 39, "Gesamtbeitrag", decimals=2)

# Adresskennzeichen 01 = Versicherungsnehmer: the policyholder, who becomes the customer.
POLICYHOLDER = "01"
# Kommunikationstyp: 10/20/30 telephone (private, business, mobile), 50/51/52 e-mail.
PHONE_TYPES = ("10", "30", "20")
EMAIL_TYPES = ("50", "51", "52")

# The Satzarten of the GDV VUVM standard (as listed in the Vorsatz); any other is an error.
KNOWN_SATZARTEN = frozenset(
    [
        "0001",
        "0052",
        "0100",
        "0102",
        "0200",
        "0202",
        "0210",
        "0211",
        "0212",
        "0220",
        "0221",
        "0222",
        "0230",
        "0250",
        "0251",
        "0260",
        "0270",
        "0280",
        "0291",
        "0292",
        "0293",
        "0294",
        "0295",
        "0300",
        "0342",
        "0350",
        "0352",
        "0362",
        "0372",
        "0382",
        "0390",
        "0392",
        "0400",
        "0410",
        "0420",
        "0430",
        "0450",
        "0500",
        "0550",
        "0600",
        "9950",
        "9951",
        "9952",
        "9999",
    ]
)
READ_SATZARTEN = frozenset({"0001", "0100", "0200", "9999"})


@dataclass
class Problem:
    line: int | None
    column: str
    message: str
    value: str = ""


@dataclass
class Record:
    line: int
    text: str

    @property
    def satzart(self) -> str:
        return SATZART.read(self.text)

    def get(self, f: Field) -> str:
        return f.read(self.text)

    @property
    def contract_key(self) -> tuple[str, str, str, str]:
        return (
            self.get(VU_NUMMER).strip(),
            self.get(SPARTE),
            self.get(VS_NR).strip(),
            self.get(FOLGE_NR),
        )


@dataclass
class Group:
    """A record made of Teildatensätze: an address (0100) or a contract (0200)."""

    parts: dict[int, Record]

    @property
    def first(self) -> Record:
        return self.parts[1]

    def part(self, number: int) -> Record | None:
        return self.parts.get(number)


@dataclass
class Package:
    """The records from one Vorsatz to its Nachsatz."""

    vorsatz: Record | None = None
    nachsatz: Record | None = None
    addresses: list[Group] = field(default_factory=list)
    contracts: list[Group] = field(default_factory=list)
    records: int = 0
    premium_sum: Decimal = Decimal("0")
    skipped: Counter = field(default_factory=Counter)
    data_started: bool = False

    @property
    def vu_number(self) -> str:
        return self.vorsatz.get(VORSATZ_VU_NUMMER).strip() if self.vorsatz else ""

    @property
    def sender(self) -> str:
        return self.vorsatz.get(VORSATZ_ABSENDER).strip() if self.vorsatz else ""


@dataclass
class GdvFile:
    packages: list[Package] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    total_records: int = 0
    satzarten: Counter = field(default_factory=Counter)

    @property
    def skipped(self) -> Counter:
        total: Counter = Counter()
        for package in self.packages:
            total.update(package.skipped)
        return total


def decode(content: bytes) -> str:
    """ISO-8859-1 text; a UTF-8 or UTF-16 file or binary data is refused with the reason."""
    if not content or not content.strip():
        raise FileProblem(_("The file is empty."))
    if content.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in content:
        raise FileProblem(
            _("The file is not a GDV file: it is UTF-16 encoded or binary. GDV files are ISO-8859-1 text.")
        )
    if any(b >= 0x80 for b in content[:1_000_000]):
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise FileProblem(
                _(
                    "The file is UTF-8 encoded, but GDV files are ISO-8859-1: umlauts would shift every "
                    "field after them. Ask the sender for the original file."
                )
            )
    if content.startswith(b"PK\x03\x04"):
        raise FileProblem(_("The file is a ZIP archive or a workbook, not a GDV file."))
    return content.decode(ENCODING)


def split_records(text: str) -> list[tuple[int, str]]:
    if "\n" not in text and "\r" not in text and len(text) > RECORD_LENGTH and len(text) % RECORD_LENGTH == 0:
        # Some senders write the records without line ends.
        return [
            (i + 1, text[i * RECORD_LENGTH : (i + 1) * RECORD_LENGTH])
            for i in range(len(text) // RECORD_LENGTH)
        ]
    lines = text.split("\n")
    result = [
        (number, line[:-1] if line.endswith("\r") else line) for number, line in enumerate(lines, start=1)
    ]
    while result and not result[-1][1]:
        result.pop()
    return result


def parse_amount(raw: str, decimals: int) -> Decimal:
    digits = raw.strip()
    if not digits or not digits.isdigit() or not digits.isascii():
        raise ValueError(raw)
    return Decimal(int(digits)).scaleb(-decimals)


def parse_gdv_date(raw: str) -> tuple[dt.date | None, bool]:
    """TTMMJJJJ -> (date, partial). All zeros or blanks: unknown (None). A zero day or month is
    an unknown part and stands for the 1st / January; raises ValueError for no such day."""
    if not raw.strip() or raw.strip("0 ") == "":
        return None, False
    if len(raw) != 8 or not raw.isdigit() or not raw.isascii():
        raise ValueError(_("“%(value)s” is not a date in the form TTMMJJJJ.") % {"value": raw})
    day, month, year = int(raw[:2]), int(raw[2:4]), int(raw[4:])
    if year == 0:
        return None, False
    partial = day == 0 or month == 0
    try:
        return dt.date(year, month or 1, day or 1), partial
    except ValueError:
        raise ValueError(
            _("%(day)02d.%(month)02d.%(year)04d is not a valid date (there is no such day).")
            % {"day": day, "month": month, "year": year}
        ) from None


def read_gdv(content: bytes) -> GdvFile:
    """Reads the structure and checks it: record length, Satzart, Teildatensatz numbers,
    Vorsatz and Nachsatz, and the Nachsatz's record count and Gesamtbeitrag."""
    result = GdvFile()
    records = split_records(decode(content))
    current: Package | None = None
    last_group: dict[tuple[str, tuple], Group] = {}

    def problem(line, column, message, value=""):
        result.problems.append(Problem(line, column, str(message), value))

    for number, text in records:
        if len(text) != RECORD_LENGTH:
            problem(
                number,
                _("record length"),
                _("The record has %(length)s characters; a GDV record has exactly 256.")
                % {"length": len(text)},
                text[:40],
            )
            continue
        record = Record(number, text)
        satzart = record.satzart
        result.total_records += 1
        result.satzarten[satzart] += 1
        if satzart not in KNOWN_SATZARTEN:
            problem(
                number,
                SATZART.label(""),
                _("“%(value)s” is not a GDV Satzart.") % {"value": satzart},
                satzart,
            )
            if current is not None:
                current.records += 1
            continue
        if satzart == "0001":
            if current is not None and current.data_started:
                problem(
                    number, "0001", _("A new Vorsatz starts before the Nachsatz (9999) of the previous one.")
                )
                current = None
            if current is None:
                current = Package()
                result.packages.append(current)
            if record.get(TEILDATENSATZ) in ("1", " ") and current.vorsatz is None:
                current.vorsatz = record
            continue
        if satzart == "9999":
            if current is None:
                problem(number, "9999", _("A Nachsatz (9999) without a Vorsatz (0001) before it."))
                continue
            current.nachsatz = record
            _check_totals(current, problem)
            current = None
            continue
        if current is None:
            problem(number, "0001", _("The record stands outside a Vorsatz (0001) … Nachsatz (9999) block."))
            current = Package()
            result.packages.append(current)
        current.data_started = True
        current.records += 1
        if satzart not in ("0100", "0200"):
            current.skipped[satzart] += 1
            continue
        part = record.get(TEILDATENSATZ)
        if not part.isdigit() or part == "0":
            problem(
                number,
                TEILDATENSATZ.label(satzart),
                _("The Teildatensatz number “%(value)s” is not 1–9.") % {"value": part},
                part,
            )
            continue
        group_key = (satzart, record.contract_key)
        if part == "1":
            group = Group({1: record})
            last_group[group_key] = group
            (current.addresses if satzart == "0100" else current.contracts).append(group)
            if satzart == "0200":
                try:
                    current.premium_sum += parse_amount(record.get(GESAMTBEITRAG_NETTO), 2)
                except ValueError:
                    problem(
                        number,
                        GESAMTBEITRAG_NETTO.label(satzart),
                        _("“%(value)s” is not an amount (digits only, 2 implied decimals).")
                        % {"value": record.get(GESAMTBEITRAG_NETTO)},
                        record.get(GESAMTBEITRAG_NETTO),
                    )
            continue
        group = last_group.get(group_key)
        if group is None:
            problem(
                number,
                TEILDATENSATZ.label(satzart),
                _("Teildatensatz %(part)s comes without Teildatensatz 1 of the same contract.")
                % {"part": part},
                part,
            )
            continue
        group.parts[int(part)] = record

    if not result.total_records and not result.problems:
        raise FileProblem(_("The file is empty."))
    if not result.packages and result.total_records:
        problem(None, "0001", _("The file has no Vorsatz (0001)."))
    if current is not None:
        problem(
            records[-1][0] if records else None,
            "9999",
            _("The file ends without a Nachsatz (9999): it is incomplete (truncated) and is not imported."),
        )
    return result


def _check_totals(package: Package, problem) -> None:
    record = package.nachsatz
    try:
        declared_count = int(parse_amount(record.get(ANZAHL_SAETZE), 0))
    except ValueError:
        problem(
            record.line,
            ANZAHL_SAETZE.label("9999"),
            _("The record count is not a number."),
            record.get(ANZAHL_SAETZE),
        )
    else:
        if declared_count != package.records:
            problem(
                record.line,
                ANZAHL_SAETZE.label("9999"),
                _(
                    "The Nachsatz counts %(declared)s records, but the file holds %(read)s between Vorsatz "
                    "and Nachsatz: records are missing or added."
                )
                % {"declared": declared_count, "read": package.records},
                str(declared_count),
            )
    try:
        declared_total = parse_amount(record.get(NACHSATZ_GESAMTBEITRAG), 2)
    except ValueError:
        problem(
            record.line,
            NACHSATZ_GESAMTBEITRAG.label("9999"),
            _("The Gesamtbeitrag is not an amount."),
            record.get(NACHSATZ_GESAMTBEITRAG),
        )
    else:
        if declared_total != package.premium_sum:
            problem(
                record.line,
                NACHSATZ_GESAMTBEITRAG.label("9999"),
                _(
                    "The Nachsatz states a Gesamtbeitrag of %(declared)s, but the contracts (0200) add up "
                    "to %(read)s."
                )
                % {"declared": format_money(declared_total), "read": format_money(package.premium_sum)},
                format_money(declared_total),
            )


def format_money(amount: Decimal) -> str:
    """4806.00 -> '4.806,00 €' (German, independent of the active language: it quotes the file)."""
    text = f"{amount:,.2f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return f"{text} €"
