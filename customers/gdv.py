"""GDV value lists (VUVM), encoded from the GDV code tables.

Glossary:
- Sparte: the GDV line-of-business code (010 Leben, 040 Haftpflicht, 050 Kraftfahrt, ...).
- Courtage: the broker's commission, paid by the insurer; claw-backs (Stornohaftung) are negative.
- Hauptfälligkeit: the contract's yearly main due date; the notice period counts back from it.
"""

from django.utils.translation import gettext_lazy as _

# GDV Anrede (salutation).
SALUTATIONS = [
    ("0", _("(no salutation)")),
    ("1", _("Mr")),
    ("2", _("Ms")),
    ("3", _("Company")),
    ("4", _("Mr and Ms")),
    ("5", _("Miss")),
    ("6", _("Association")),
    ("7", _("Ladies")),
    ("8", _("Gentlemen")),
]
SALUTATION_TEXT_DE = {
    "0": "(ohne Anrede)", "1": "Herr", "2": "Frau", "3": "Firma", "4": "Herr und Frau",
    "5": "Fräulein", "6": "Vereinigung", "7": "Damen", "8": "Herren",
}  # fmt: skip

# GDV Vertragsstatus (contract status).
CONTRACT_STATUSES = [
    ("1", _("in force")),
    ("2", _("in force / short-term / within the year")),
    ("3", _("dormant / expectancy")),
    ("4", _("cancelled")),
    ("5", _("dormant / paid-up")),
    ("6", _("paid-up")),
    ("7", _("paid-up by benefit")),
    ("8", _("premium deferral")),
    ("9", _("other")),
    ("A", _("in benefit")),
    ("B", _("in drawdown phase")),
    ("C", _("provisional cover")),
]
# Statuses in which the customer holds the cover with us (counts against a coverage gap).
ACTIVE_CONTRACT_STATUSES = ("1", "2", "3", "5", "6", "7", "8", "A", "B", "C")
CANCELLED_STATUS = "4"

# GDV Zahlungsweise (payment frequency) and payments per year.
PAYMENT_FREQUENCIES = [
    ("1", _("yearly")),
    ("2", _("half-yearly")),
    ("4", _("quarterly")),
    ("8", _("monthly")),
    ("6", _("single payment")),
    ("9", _("paid-up")),
    ("3", _("every three years")),
    ("7", _("daily")),
    ("5", _("other")),
]
PAYMENTS_PER_YEAR = {"1": 1, "2": 2, "4": 4, "8": 12, "7": 365}

# GDV Familienstand (marital status).
MARITAL_STATUSES = [
    ("1", _("single")),
    ("2", _("married")),
    ("3", _("divorced")),
    ("4", _("widowed")),
    ("5", _("separated")),
    ("9", _("other")),
]
