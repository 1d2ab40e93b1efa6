"""The column layouts of the three tabular imports and exports.

One layout per entity serves both directions: the export writes these columns in this order,
and the import's mapping step recognises them (and common German and English spellings)
from the header row, so an export re-imports without touching the mapping.

Choice columns accept the stored code (GDV codes for Anrede, Vertragsstatus, Zahlungsweise),
the English label and the German word a broker writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from customers import gdv
from customers.models import CommissionBooking, Customer

from .parsing import normalize

ValueKind = Literal["text", "date", "decimal", "int", "bool", "choice"]


@dataclass(frozen=True)
class Column:
    key: str
    label: object  # lazy translation
    kind: ValueKind = "text"
    required: bool = False
    aliases: tuple[str, ...] = ()
    choices: dict[str, str] = field(default_factory=dict)  # normalised input -> stored value

    def names(self) -> set[str]:
        """Every normalised header that means this column: the key, the label in English,
        German and the active language, and the aliases."""
        labels = {str(self.label)}
        for language in ("en", "de"):
            with translation.override(language):
                labels.add(str(self.label))
        return {normalize(self.key), *(normalize(x) for x in labels), *(normalize(a) for a in self.aliases)}


def _choices(pairs, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Codes and English labels of model choices, plus German words."""
    result: dict[str, str] = {}
    for value, label in pairs:
        result[normalize(str(value))] = value
        result[normalize(str(label))] = value
    for word, value in (extra or {}).items():
        result[normalize(word)] = value
    result.pop("", None)
    return result


SALUTATION_CHOICES = _choices(
    gdv.SALUTATIONS,
    {
        **{text: code for code, text in gdv.SALUTATION_TEXT_DE.items()},
        "Mrs": "2",
        "Ohne Anrede": "0",
        "Herrn": "1",
    },
)
KIND_CHOICES = _choices(
    Customer.Kind.choices,
    {
        "Privatperson": "person",
        "Privat": "person",
        "Firma": "company",
        "Unternehmen": "company",
        "Gewerbe": "company",
    },
)
CUSTOMER_STATUS_CHOICES = _choices(
    Customer.Status.choices,
    {
        "Interessent": "prospect",
        "Aktiv": "active",
        "Kunde": "active",
        "Ehemalig": "former",
        "Ehemaliger Kunde": "former",
    },
)
OCCUPATION_CHOICES = _choices(
    [c for c in Customer.Occupation.choices if c[0]],
    {
        "Angestellt": "employed",
        "Angestellter": "employed",
        "Arbeitnehmer": "employed",
        "Selbständig": "self_employed",
        "Selbstständig": "self_employed",
        "Freiberufler": "self_employed",
        "Beamter": "civil_servant",
        "Beamtin": "civil_servant",
        "Beamt": "civil_servant",
        "In Ausbildung": "student",
        "Student": "student",
        "Schüler": "student",
        "Azubi": "student",
        "Rentner": "retired",
        "Ruhestand": "retired",
        "Pensionär": "retired",
        "Nicht erwerbstätig": "not_working",
        "Arbeitslos": "not_working",
        "Hausfrau": "not_working",
        "Hausmann": "not_working",
    },
)
MARITAL_CHOICES = _choices(
    gdv.MARITAL_STATUSES,
    {
        "ledig": "1",
        "verheiratet": "2",
        "geschieden": "3",
        "verwitwet": "4",
        "getrennt lebend": "5",
        "getrennt": "5",
        "sonstiges": "9",
    },
)
CONTRACT_STATUS_CHOICES = _choices(
    gdv.CONTRACT_STATUSES,
    {
        "lebend": "1",
        "aktiv": "1",
        "lebend / kurzfristig / unterjährig": "2",
        "ruhend / Anwartschaft": "3",
        "storniert": "4",
        "gekündigt": "4",
        "ruhend / beitragsfrei": "5",
        "beitragsfrei": "6",
        "beitragsfrei durch Leistung": "7",
        "Beitragsstundung": "8",
        "Sonstiges": "9",
        "In Leistung": "A",
        "In Abrufphase": "B",
        "Vorläufige Deckung": "C",
    },
)
PAYMENT_CHOICES = _choices(
    gdv.PAYMENT_FREQUENCIES,
    {
        "jährlich": "1",
        "halbjährlich": "2",
        "vierteljährlich": "4",
        "quartalsweise": "4",
        "monatlich": "8",
        "Einmalbetrag": "6",
        "einmalig": "6",
        "beitragsfrei": "9",
        "dreijährig": "3",
        "täglich": "7",
        "Sonstiges": "5",
    },
)
BOOKING_KIND_CHOICES = _choices(
    CommissionBooking.Kind.choices,
    {
        "Abschlusscourtage": "acquisition",
        "Abschluss": "acquisition",
        "Abschlussprovision": "acquisition",
        "acquisition": "acquisition",
        "Bestandscourtage": "recurring",
        "Bestand": "recurring",
        "Bestandsprovision": "recurring",
        "Folgecourtage": "recurring",
        "Storno": "clawback",
        "Stornohaftung": "clawback",
        "Rückbelastung": "clawback",
        "claw-back": "clawback",
    },
)

CUSTOMER_NUMBER = Column(
    "customer_number",
    _("customer number"),
    required=True,
    aliases=(
        "Kundennummer",
        "Kunden-Nr.",
        "Kundennr",
        "Kd-Nr.",
        "KdNr",
        "customer no",
        "customer id",
        "Nummer",
    ),
)
INSURER = Column(
    "insurer",
    _("insurer"),
    required=True,
    aliases=(
        "Versicherer",
        "Gesellschaft",
        "Versicherungsgesellschaft",
        "VU",
        "insurance company",
        "company name",
    ),
)
INSURER_VU_NUMBER = Column(
    "insurer_vu_number",
    _("GDV VU number"),
    aliases=("VU-Nummer", "VU-Nr.", "VUNr", "VU number", "insurer number"),
)
POLICY_NUMBER = Column(
    "policy_number",
    _("policy number"),
    required=True,
    aliases=(
        "Versicherungsscheinnummer",
        "Versicherungsschein-Nr.",
        "VSNR",
        "VS-Nr.",
        "Vertragsnummer",
        "Policennummer",
        "Police",
        "Versicherungsnummer",
        "contract number",
        "policy no",
    ),
)

CUSTOMER_LAYOUT: tuple[Column, ...] = (
    CUSTOMER_NUMBER,
    Column("kind", _("kind"), "choice", aliases=("Art", "Typ", "Kundenart", "type"), choices=KIND_CHOICES),
    Column("salutation", _("salutation"), "choice", aliases=("Anrede",), choices=SALUTATION_CHOICES),
    Column("title", _("title"), aliases=("Titel",)),
    Column("first_name", _("first name"), aliases=("Vorname", "firstname", "given name")),
    Column(
        "name",
        _("last name / company"),
        required=True,
        aliases=(
            "Name",
            "Nachname",
            "Familienname",
            "Name / Firma",
            "Firma",
            "last name",
            "surname",
            "lastname",
        ),
    ),
    Column(
        "birth_date",
        _("birth date / founded"),
        "date",
        aliases=(
            "Geburtsdatum",
            "geboren",
            "Gründungsdatum",
            "birth date",
            "date of birth",
            "birthday",
            "dob",
        ),
    ),
    Column("email", _("e-mail"), aliases=("E-Mail", "E-Mail-Adresse", "Mail", "email address")),
    Column(
        "phone",
        _("phone"),
        aliases=("Telefon", "Telefonnummer", "Tel", "Tel.", "Mobil", "telephone", "mobile"),
    ),
    Column(
        "street",
        _("street"),
        aliases=(
            "Straße",
            "Strasse",
            "Str.",
            "Anschrift",
            "Straße und Hausnummer",
            "address",
            "street address",
        ),
    ),
    Column("postal_code", _("postal code"), aliases=("PLZ", "Postleitzahl", "zip", "zip code", "postcode")),
    Column("city", _("city"), aliases=("Ort", "Wohnort", "Stadt", "town")),
    Column("country", _("country"), aliases=("Land", "Länderkennzeichen", "LKZ", "country code")),
    Column(
        "status",
        _("status"),
        "choice",
        aliases=("Kundenstatus", "customer status"),
        choices=CUSTOMER_STATUS_CHOICES,
    ),
    Column("advisor", _("advisor"), aliases=("Betreuer", "Berater", "Kundenbetreuer", "adviser", "username")),
    Column(
        "occupation",
        _("occupation"),
        "choice",
        aliases=("Beruf", "Berufsstatus", "Tätigkeit", "occupation status"),
        choices=OCCUPATION_CHOICES,
    ),
    Column(
        "marital_status", _("marital status"), "choice", aliases=("Familienstand",), choices=MARITAL_CHOICES
    ),
    Column(
        "homeowner",
        _("homeowner"),
        "bool",
        aliases=("Eigentümer", "Wohneigentum", "Hauseigentümer", "Immobilienbesitzer", "home owner"),
    ),
    Column(
        "cars", _("cars"), "int", aliases=("Autos", "Fahrzeuge", "Anzahl Fahrzeuge", "Kfz", "number of cars")
    ),
    Column(
        "children", _("children"), "int", aliases=("Kinder", "Anzahl Kinder", "kids", "number of children")
    ),
)

CONTRACT_LAYOUT: tuple[Column, ...] = (
    CUSTOMER_NUMBER,
    INSURER,
    INSURER_VU_NUMBER,
    Column(
        "line_of_business",
        _("line of business"),
        required=True,
        aliases=(
            "Sparte",
            "Spartencode",
            "Sparten-Nr.",
            "GDV Sparte",
            "Sparte (GDV)",
            "line",
            "lob",
            "product line",
        ),
    ),
    POLICY_NUMBER,
    Column(
        "status",
        _("status"),
        "choice",
        aliases=("Vertragsstatus", "contract status"),
        choices=CONTRACT_STATUS_CHOICES,
    ),
    Column(
        "start_date",
        _("start"),
        "date",
        required=True,
        aliases=("Beginn", "Vertragsbeginn", "Versicherungsbeginn", "start date", "begin", "inception"),
    ),
    Column(
        "end_date",
        _("end (Ablauf)"),
        "date",
        aliases=("Ablauf", "Vertragsablauf", "Ende", "Vertragsende", "end", "end date", "expiry"),
    ),
    Column(
        "main_due_date",
        _("main due date (Hauptfälligkeit)"),
        "date",
        required=True,
        aliases=("Hauptfälligkeit", "Hauptfaelligkeit", "HF", "Fälligkeit", "main due date", "renewal date"),
    ),
    Column(
        "notice_period_months",
        _("notice period (months)"),
        "int",
        aliases=("Kündigungsfrist", "Kündigungsfrist (Monate)", "notice period"),
    ),
    Column(
        "payment_frequency",
        _("payment frequency"),
        "choice",
        aliases=("Zahlungsweise", "Zahlweise", "payment mode"),
        choices=PAYMENT_CHOICES,
    ),
    Column(
        "annual_premium",
        _("annual net premium"),
        "decimal",
        required=True,
        aliases=(
            "Jahresbeitrag",
            "Jahresnettobeitrag",
            "Nettojahresbeitrag",
            "Beitrag",
            "Nettobeitrag",
            "Prämie",
            "Jahresprämie",
            "annual premium",
            "premium",
        ),
    ),
)

BOOKING_LAYOUT: tuple[Column, ...] = (
    POLICY_NUMBER,
    INSURER,
    INSURER_VU_NUMBER,
    Column(
        "booked_on",
        _("booking date"),
        "date",
        required=True,
        aliases=("Buchungsdatum", "Datum", "Valuta", "date", "booked on"),
    ),
    Column(
        "amount",
        _("amount"),
        "decimal",
        required=True,
        aliases=("Betrag", "Courtage", "Provision", "Courtagebetrag", "commission"),
    ),
    Column(
        "kind",
        _("kind"),
        "choice",
        aliases=("Art", "Buchungsart", "Courtageart", "type"),
        choices=BOOKING_KIND_CHOICES,
    ),
    Column(
        "statement_reference",
        _("statement reference"),
        aliases=(
            "Abrechnung",
            "Abrechnungsnummer",
            "Abrechnungsreferenz",
            "Referenz",
            "Beleg",
            "Belegnummer",
            "statement",
            "reference",
        ),
    ),
)

LAYOUTS: dict[str, tuple[Column, ...]] = {
    "customers": CUSTOMER_LAYOUT,
    "contracts": CONTRACT_LAYOUT,
    "bookings": BOOKING_LAYOUT,
}


def layout_columns(kind: str) -> dict[str, Column]:
    return {column.key: column for column in LAYOUTS[kind]}


def suggest_mapping(kind: str, headers: list[str]) -> dict[str, str]:
    """{column index: column key} for every header that names a layout column (first wins)."""
    by_name: dict[str, str] = {}
    for column in LAYOUTS[kind]:
        for name in column.names():
            by_name.setdefault(name, column.key)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        key = by_name.get(normalize(str(header or "")))
        if key and key not in taken:
            mapping[str(index)] = key
            taken.add(key)
    return mapping


def missing_required(kind: str, mapping: dict[str, str]) -> list[Column]:
    mapped = set(mapping.values())
    return [column for column in LAYOUTS[kind] if column.required and column.key not in mapped]
