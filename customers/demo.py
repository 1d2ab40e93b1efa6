"""The demo and scale book: a realistic German broker book, deterministic for a seed.

`seed_demo(customers=N, seed=S)` builds N customers with households, referrals, needs profiles,
marketing consents, 1–8 contracts each (skewed toward one-contract customers, mean ~2.5), the
Courtage ledger of the last 24 months and a few activities, plus the demo users.

How it stays fast (1,000,000 customers in minutes on PostgreSQL):
- Faker is called only to fill small pools (names, streets, PLZ/city pairs) once; rows are
  combined from the pools with one seeded `random.Random`, so the same seed gives the same book.
- Ids of customers, households and contracts are reserved up front (from the sequence on
  PostgreSQL, from max(id) on SQLite), so foreign keys are known without round trips.
- Rows are written per batch in one transaction: COPY FROM STDIN on PostgreSQL, bulk_create on
  SQLite. An interrupted run leaves only whole batches.
- The recurring Bestandscourtage (the bulk of the ledger) is generated set-based in SQL from the
  contracts of the batch; the same statement runs on both databases, only a few date and
  series fragments differ (`_Dialect`). One-off Abschlusscourtage and claw-backs are few and
  come from Python, next to the contract they belong to.
- On PostgreSQL Python generates the next batches while two connections write earlier ones
  (writer threads; batches are independent, so they may commit in any order), and a superuser
  connection skips the per-row foreign-key triggers (`session_replication_role = replica`, as
  pg_restore does) and proves the batch's foreign keys before it commits instead.

Courtage rules (from the domain notes): Sach/HUK lines earn a share of the net premium for every
premium payment (Privathaftpflicht and Wohngebäude 25 %, Hausrat 20 %, Kfz 9 %, ...); Leben and BU
earn a one-off Abschlusscourtage of 25–40 ‰ of the Beitragssumme plus 1 % of the premium as
Bestandscourtage; PKV earns 5–9 monthly premiums once. One-off Courtage of a contract cancelled
within 5 years is clawed back pro rata (Stornohaftung).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import queue
import random
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.utils import timezone

from brokercrm.accounts.models import User
from brokercrm.accounts.roles import OWNER_GROUP, STAFF_GROUP

from .models import (
    Activity,
    CommissionBooking,
    Contract,
    Customer,
    Household,
    Insurer,
    LineOfBusiness,
    MarketingConsent,
)

DEMO_PASSWORD = "demo1234"  # demo only: printed by `demo_logins`, never use it for real data
DEMO_USERS = [
    # username, first name, last name, group, share of customers they advise
    ("inhaber", "Petra", "Lorenz", OWNER_GROUP, 0.30),
    ("innendienst", "Jonas", "Weber", STAFF_GROUP, 0.40),
    ("innendienst2", "Aylin", "Demir", STAFF_GROUP, 0.30),
]
DEFAULT_BATCH_SIZE = 25_000
LEDGER_MONTHS = 24  # the Courtage ledger covers the last 24 full months before the as-of date
CLAWBACK_MONTHS = 60  # Stornohaftung for one-off Courtage of Leben and PKV (§ 49 VAG)
NULL = "\\N"  # NULL in COPY text format; rows are tuples of str with this marker

# Fictitious German insurers: name, 5-digit VU number, what they write.
INSURERS: list[tuple[str, str, str]] = [
    ("Hanseatische Allgemeine Versicherung AG", "10041", "composite"),
    ("Rheinland Provinzial Assekuranz AG", "10129", "composite"),
    ("Bayerische Landesbrand Versicherung AG", "10217", "composite"),
    ("Nordstern Sachversicherung AG", "10305", "composite"),
    ("Württembergische Gemeinde-Versicherung a.G.", "10488", "composite"),
    ("Elbtal Versicherung AG", "10576", "composite"),
    ("Westfälische Feuersozietät AG", "10664", "composite"),
    ("Mitteldeutsche Allgemeine Versicherung AG", "10752", "composite"),
    ("Saar-Pfälzische Versicherung AG", "10840", "composite"),
    ("Alstertor Direktversicherung AG", "10928", "composite"),
    ("Kurpfalz Kraftfahrt-Versicherung AG", "11016", "motor"),
    ("Deutsche Fahrerschutz Versicherung AG", "11104", "motor"),
    ("Auto-Union Versicherungsverein a.G.", "11292", "motor"),
    ("Justitia Rechtsschutz-Versicherung AG", "11380", "legal"),
    ("Paragraf Rechtsschutz AG", "11468", "legal"),
    ("Hanse Lebensversicherung AG", "20056", "life"),
    ("Rheinische Lebensversicherung a.G.", "20144", "life"),
    ("Zukunft & Vorsorge Lebensversicherung AG", "20232", "life"),
    ("Alpenland Lebensversicherung AG", "20320", "life"),
    ("Ostsee Leben Versicherung AG", "20408", "life"),
    ("Vitalis Krankenversicherung a.G.", "40036", "health"),
    ("Mediplus Private Krankenversicherung AG", "40124", "health"),
    ("Salus Krankenversicherung AG", "40212", "health"),
    ("Industrie- und Handwerker-Versicherung AG", "10996", "commercial"),
    ("Gewerbe-Assekuranz Nord AG", "11084", "commercial"),
]


@dataclass(frozen=True)
class LineSpec:
    code: str
    premium: tuple[int, int]  # annual net premium range in €
    courtage_bp: int  # recurring Courtage in basis points of the net premium (0: none)
    insurer_kinds: tuple[str, ...]
    monthly_share: float  # share paid monthly (rest mostly yearly)
    notice_months: int = 3
    one_off: str = ""  # "life": ‰ of the Beitragssumme, "health": monthly premiums
    jan_first: float = 0.55  # share with Hauptfälligkeit 01.01. (rest: the start anniversary)


LINES: dict[str, LineSpec] = {
    s.code: s
    for s in [
        LineSpec("041", (50, 150), 2500, ("composite",), 0.08),
        LineSpec("130", (60, 250), 2000, ("composite",), 0.10),
        LineSpec("140", (300, 1500), 2500, ("composite",), 0.10),
        LineSpec("110", (25, 90), 2000, ("composite",), 0.05),
        LineSpec("051", (185, 1100), 900, ("motor", "composite"), 0.15, 1, jan_first=0.9),
        LineSpec("052", (150, 800), 900, ("motor", "composite"), 0.15, 1, jan_first=0.9),
        LineSpec("070", (130, 375), 1500, ("legal", "composite"), 0.15),
        LineSpec("030", (80, 300), 2000, ("composite",), 0.20),
        LineSpec("BU", (480, 1800), 100, ("life",), 0.90, one_off="life", jan_first=0.0),
        LineSpec("010", (300, 2400), 100, ("life",), 0.90, one_off="life", jan_first=0.0),
        LineSpec("021", (3600, 9600), 0, ("health",), 0.95, one_off="health", jan_first=0.0),
        LineSpec("024", (240, 900), 0, ("health",), 0.90, one_off="health", jan_first=0.0),
        LineSpec("042", (300, 3000), 2000, ("commercial", "composite"), 0.05),
        LineSpec("044", (400, 2500), 1500, ("commercial",), 0.05),
        LineSpec("080", (500, 5000), 1500, ("commercial", "composite"), 0.05),
        LineSpec("170", (300, 2500), 1500, ("commercial",), 0.05),
        LineSpec("230", (400, 3500), 1500, ("commercial",), 0.05),
    ]
}

# Contracts per customer: 1–8, skewed toward one-contract customers (mean ~2.5).
CONTRACT_COUNT_WEIGHTS = [0.40, 0.22, 0.14, 0.09, 0.06, 0.045, 0.025, 0.02]

TOP_LAST_NAMES = [
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier", "Köhler",
    "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters", "Lang", "Scholz",
]  # fmt: skip
COMMON_STREETS = [
    "Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße",
    "Birkenweg", "Lindenstraße", "Kirchstraße", "Waldstraße", "Ringstraße", "Schillerstraße",
    "Goethestraße", "Jahnstraße", "Am Sportplatz", "Wiesenweg", "Feldstraße", "Rosenstraße",
    "Mühlenweg", "Friedhofstraße", "Amselweg", "Mozartstraße", "Parkstraße", "Uhlandstraße",
]  # fmt: skip
AREA_CODES = ["030", "040", "069", "089", "0221", "0211", "0341", "0351", "0511", "0711", "0911",
              "03464", "0345", "0371", "0421", "0228", "0621", "0761", "0151", "0160", "0170", "0176"]  # fmt: skip
CONSENT_SOURCES = [
    "Beratungsgespräch, unterschriebene Einwilligung",
    "Webformular mit Double-Opt-in",
    "Kundenfragebogen (Papier)",
    "Telefonat, schriftlich bestätigt",
]
CONSENT_WORDING = {
    "post": "Ich bin einverstanden, Informationen zu Versicherungsangeboten per Post zu erhalten.",
    "email": "Ich willige ein, per E-Mail über Versicherungsangebote informiert zu werden. "
    "Widerruf jederzeit möglich.",
    "phone": "Ich willige ein, zu Versicherungsfragen telefonisch kontaktiert zu werden. "
    "Widerruf jederzeit möglich.",
}
ACTIVITY_SUBJECTS = {
    "call": ["Rückfrage zur Beitragsrechnung", "Schadenmeldung besprochen", "Terminvereinbarung",
             "Frage zur Kündigungsfrist", "Adressänderung telefonisch"],
    "meeting": ["Jahresgespräch", "Beratung Altersvorsorge", "Bestandsaufnahme Versicherungen",
                "Beratung Berufsunfähigkeit"],
    "letter": ["Beitragsanpassung erläutert", "Maklervollmacht zurückgesandt", "Vertragsunterlagen versandt"],
    "email": ["Angebot Hausrat versandt", "Nachweis für Finanzamt", "Rückfrage Kfz-Wechsel"],
    "note": ["Kunde zieht im Frühjahr um", "Nachwuchs erwartet", "Interesse an Wohngebäude"],
}  # fmt: skip
EMAIL_DOMAINS = ["web.de", "gmx.de", "t-online.de", "gmail.com", "posteo.de", "outlook.de", "freenet.de"]
TITLES = [("", 0.965), ("Dr.", 0.03), ("Prof. Dr.", 0.005)]


@dataclass
class SeedResult:
    customers: int = 0
    households: int = 0
    contracts: int = 0
    bookings: int = 0
    consents: int = 0
    activities: int = 0
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # seconds per write step


@dataclass
class Batch:
    """The rows of one batch, as tuples of str (NULL for SQL NULL) in `COLUMNS` order."""

    customer_ids: tuple[int, int]
    contract_ids: tuple[int, int]
    rows: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)


# Columns written per model; every other concrete column gets the model field's default.
COLUMNS: dict[type[models.Model], list[str]] = {
    Household: ["id", "created_at", "updated_at", "name"],
    Customer: [
        "id", "created_at", "updated_at", "number", "kind", "salutation", "title", "first_name", "name",
        "birth_date", "email", "phone", "street", "postal_code", "city", "country", "advisor_id",
        "status", "household_id", "referred_by_id", "occupation", "marital_status", "homeowner",
        "cars", "children",
    ],
    Contract: [
        "id", "created_at", "updated_at", "customer_id", "insurer_id", "line_of_business_id",
        "policy_number", "status", "start_date", "end_date", "main_due_date", "notice_period_months",
        "payment_frequency", "annual_premium",
    ],
    MarketingConsent: [
        "customer_id", "channel", "granted_on", "source", "wording", "withdrawn_on", "created_at", "updated_at",
    ],
    Activity: ["customer_id", "kind", "occurred_at", "subject", "notes", "user_id", "created_at"],
    CommissionBooking: [
        "contract_id", "booked_on", "amount", "kind", "statement_reference", "created_at", "created_by_id",
    ],
}  # fmt: skip
WRITE_ORDER = [Household, Customer, Contract, MarketingConsent, Activity, CommissionBooking]


# --------------------------------------------------------------------------------------------
# Small helpers


def _cum(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return [x / total for x in out]


def _pick_table(values: list, weights: list[float], size: int = 1000) -> list:
    """A lookup table so a weighted choice is `table[int(random() * size)]`."""
    cum = _cum(weights)
    table, j = [], 0
    for i in range(size):
        x = (i + 0.5) / size
        while cum[j] < x:
            j += 1
        table.append(values[j])
    return table


def _ascii(text: str) -> str:
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text if ch.isalnum() or ch in ".-")


def _clean(text: str) -> str:
    """Pool strings must not need COPY escaping."""
    return " ".join(text.replace("\\", "").split())


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


class _Days:
    """Dates as day numbers, with ISO strings and year/month precomputed (fast row building)."""

    def __init__(self, first: dt.date, last: dt.date):
        self.base = first.toordinal()
        n = last.toordinal() - self.base + 1
        dates = [dt.date.fromordinal(self.base + i) for i in range(n)]
        self.iso = [d.isoformat() for d in dates]
        self.year = [d.year for d in dates]
        self.month = [d.month for d in dates]
        self.day = [d.day for d in dates]

    def num(self, d: dt.date) -> int:
        return d.toordinal() - self.base

    def date(self, num: int) -> dt.date:
        return dt.date.fromordinal(self.base + num)

    def ymd(self, year: int, month: int, day: int) -> int:
        try:
            return dt.date(year, month, day).toordinal() - self.base
        except ValueError:  # 29.02. in a common year
            return dt.date(year, month, 28).toordinal() - self.base


@dataclass
class Pools:
    """Everything Faker contributes, drawn once from a seeded Faker."""

    male: list[str]
    female: list[str]
    last_names: list[str]  # a lookup table: common names appear more often
    streets: list[str]
    places: list[tuple[str, str]]  # (PLZ, city)
    company_names: list[str]
    company_domains: dict[str, str]
    ascii: dict[str, str]

    @classmethod
    @functools.lru_cache(maxsize=4)  # pure function of the seed; saves Faker's time on re-runs
    def build(cls, seed: int) -> Pools:
        from faker import Faker

        from .validators import GERMAN_PLZ

        fake = Faker("de_DE")
        fake.seed_instance(seed)
        male = sorted({_clean(fake.first_name_male()) for _ in range(1500)})
        female = sorted({_clean(fake.first_name_female()) for _ in range(1500)})
        faker_last = sorted({_clean(fake.last_name()) for _ in range(2000)} - set(TOP_LAST_NAMES))
        names = TOP_LAST_NAMES + faker_last
        # Zipf-like: Müller, Schmidt, ... are the most frequent, as in Germany.
        last_names = _pick_table(names, [1.0 / (i + 8) for i in range(len(names))], 20_000)
        streets = COMMON_STREETS + sorted({_clean(fake.street_name()) for _ in range(1500)})
        places: dict[str, str] = {}
        cities = sorted({_clean(fake.city()) for _ in range(1200)})
        for city in cities:
            for _ in range(1 + fake.random_int(0, 2)):
                plz = fake.postcode()
                if GERMAN_PLZ.match(plz):
                    places.setdefault(plz, city)
        companies = sorted({_clean(fake.company()) for _ in range(4000)})
        all_names = set(male) | set(female) | set(names)
        return cls(
            male=male,
            female=female,
            last_names=last_names,
            streets=streets,
            places=sorted(places.items()),
            company_names=companies,
            company_domains={c: f"{_ascii(c.split()[0]).strip('.-') or 'firma'}.de" for c in companies},
            ascii={n: _ascii(n) for n in all_names},
        )


# --------------------------------------------------------------------------------------------
# The generator: pure Python, no database access.


@dataclass
class Refs:
    """Database ids the generator needs (users, insurers, lines)."""

    advisors: list[int]  # a lookup table by share
    users: list[int]
    line_ids: dict[str, int]
    insurers_by_kind: dict[str, list[tuple[int, str]]]  # kind -> [(id, vu_number)]
    statement_day: dict[int, int]  # insurer id -> day of month of its Courtage statement
    vu_number: dict[int, str]


class BookGenerator:
    """Builds batches of rows from one seeded random stream (same seed, same book)."""

    def __init__(self, *, seed: int, as_of: dt.date, refs: Refs, now: dt.datetime, pools: Pools):
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.refs = refs
        self.pools = pools
        self.now = str(now.astimezone(dt.UTC))
        self.days = _Days(dt.date(1920, 1, 1), dt.date(2100, 12, 31))
        self.today = self.days.num(as_of)
        self.as_of_month = as_of.year * 12 + as_of.month - 1
        self.ledger_first = self.as_of_month - LEDGER_MONTHS
        self.ledger_last = self.as_of_month - 1
        self.count_table = _pick_table(list(range(1, 9)), CONTRACT_COUNT_WEIGHTS)
        self.title_table = _pick_table([t for t, _ in TITLES], [w for _, w in TITLES])
        self.insurer_tables = {
            code: _pick_table(
                [i for kind in spec.insurer_kinds for i in refs.insurers_by_kind.get(kind, [])],
                [
                    (3.0 if k == 0 else 1.0) / (1 + j)
                    for k, kind in enumerate(spec.insurer_kinds)
                    for j, _ in enumerate(refs.insurers_by_kind.get(kind, []))
                ],
            )
            for code, spec in LINES.items()
        }
        self.batch_base = 0

    # -- customers ---------------------------------------------------------------------------

    def batch(self, n: int, customer_base: int, reserve: Callable[[type[models.Model], int], int]) -> Batch:
        """n customers with ids from customer_base; reserve(model, k) gives the first of k new ids."""
        rnd = self.rng.random
        now = self.now
        self.batch_base = customer_base
        customers, consents, activities = [], [], []
        household_names: list[str] = []
        contract_plans: list[tuple[int, dict]] = []
        i = 0
        while i < n:
            cid = customer_base + i
            if rnd() < 0.08:
                profile = self._company(cid)
                size = 1
                members = [profile]
            elif rnd() < 0.144 and n - i >= 2:
                size = 2 if rnd() < 0.6 else (3 if rnd() < 0.62 else 4)
                size = min(size, n - i)
                members = self._household(cid, size, len(household_names))
                household_names.append(f"Familie {members[0]['name']}")
            else:
                size = 1
                members = [self._person(cid, None, None, None)]
            for m in members:
                contract_plans.append((m["id"], m))
            i += size
        household_base = reserve(Household, len(household_names))
        households = [(str(household_base + k), now, now, name) for k, name in enumerate(household_names)]
        # Contracts need ids before rows can be formatted.
        plans = []
        for cust_id, m in contract_plans:
            plans.append((cust_id, m, self._contract_lines(m)))
        total = sum(len(lines) for _, _, lines in plans)
        contract_base = reserve(Contract, total)
        contracts: list[tuple[str, ...]] = []
        bookings: list[tuple[str, ...]] = []
        next_contract = contract_base
        for cust_id, m, lines in plans:
            any_active = False
            for code in lines:
                row, active = self._contract(next_contract, cust_id, m, code, bookings)
                contracts.append(row)
                any_active = any_active or active
                next_contract += 1
            m["status"] = "active" if any_active else "former"
            customers.append(self._customer_row(m, household_base))
            self._consents(m, consents)
            self._activities(m, activities)
        return Batch(
            customer_ids=(customer_base, customer_base + n - 1),
            contract_ids=(contract_base, contract_base + total - 1),
            rows={
                "Household": households,
                "Customer": customers,
                "Contract": contracts,
                "MarketingConsent": consents,
                "Activity": activities,
                "CommissionBooking": bookings,
            },
        )

    def _address(self) -> tuple[str, str, str]:
        rng = self.rng
        pools = self.pools
        street = pools.streets[int(rng.random() * len(pools.streets))]
        number = str(1 + int(rng.random() ** 2 * 120))
        if rng.random() < 0.08:
            number += "abc"[int(rng.random() * 3)]
        plz, city = pools.places[int(rng.random() * len(pools.places))]
        return f"{street} {number}", plz, city

    def _common(self, cid: int) -> dict:
        """Advisor and referral; a referrer is an earlier customer of the same batch."""
        rnd = self.rng.random
        base = self.batch_base
        return {
            "id": cid,
            "advisor": self.refs.advisors[int(rnd() * len(self.refs.advisors))],
            "referred_by": base + int(rnd() * (cid - base)) if cid > base and rnd() < 0.12 else None,
        }

    def _person(self, cid: int, household: int | None, like: dict | None, role: str | None) -> dict:
        """A person; `like` is the first household member (address, name) and `role` the relation."""
        rng = self.rng
        rnd = rng.random
        pools = self.pools
        female = rnd() < 0.5
        if like is not None and role == "partner":
            female = like["salutation"] == "1"
        first_names = pools.female if female else pools.male
        first = first_names[int(rnd() * len(first_names))]
        if like is not None and (role == "child" or rnd() < 0.8):
            last = like["name"]
        else:
            last = pools.last_names[int(rnd() * len(pools.last_names))]
        if like is None:
            age = 18 + int(rnd() ** 1.3 * 67)
        elif role == "partner":
            age = max(18, min(90, like["age"] + int(rnd() * 11) - 5))
        else:  # a grown-up child
            age = 18 + int(rnd() * max(1, min(12, like["age"] - 38)))
        birth = self.today - age * 365 - int(rnd() * 365)
        p = self._common(cid)
        if like is None:
            street, plz, city = self._address()
        else:
            street, plz, city = like["street"], like["postal_code"], like["city"]
        r = rnd()
        if age >= 67:
            occupation = "retired" if r < 0.92 else "self_employed"
        elif age < 25:
            occupation = "student" if r < 0.45 else ("employed" if r < 0.92 else "not_working")
        else:
            occupation = (
                "employed" if r < 0.68 else
                "self_employed" if r < 0.80 else
                "civil_servant" if r < 0.88 else
                "not_working" if r < 0.95 else
                "retired" if age > 60 else ""
            )  # fmt: skip
        if role == "partner":
            marital = "2"
        elif age < 27:
            marital = "1" if rnd() < 0.9 else "2"
        else:
            r = rnd()
            marital = "2" if r < 0.5 else "1" if r < 0.75 else "3" if r < 0.87 else "4" if age > 60 else "5"
        email = ""
        if rnd() < 0.72:
            a = pools.ascii
            sep = "." if rnd() < 0.7 else ""
            suffix = str(int(rnd() * 99)) if rnd() < 0.3 else ""
            email = f"{a[first]}{sep}{a[last]}{suffix}@{EMAIL_DOMAINS[int(rnd() * len(EMAIL_DOMAINS))]}"
        phone = ""
        if rnd() < 0.8:
            phone = f"{AREA_CODES[int(rnd() * len(AREA_CODES))]} {100000 + int(rnd() * 8999999)}"
        homeowner = like["homeowner"] if like is not None else (age >= 28 and rnd() < 0.42)
        cars = 0 if age < 19 else int(rnd() ** 1.6 * 3.3)
        children = int(rnd() ** 1.5 * 4) if 24 <= age <= 55 and role != "child" else 0
        p.update(
            kind="person",
            salutation="2" if female else "1",
            title=self.title_table[int(rnd() * 1000)] if age >= 28 else "",
            first_name=first,
            name=last,
            age=age,
            birth=birth,
            email=email,
            phone=phone,
            street=street,
            postal_code=plz,
            city=city,
            household=household,
            occupation=occupation,
            marital=marital,
            homeowner=homeowner,
            cars=cars,
            children=children,
        )
        return p

    def _household(self, cid: int, size: int, household: int) -> list[dict]:
        """`household` is the batch-local index; ids are reserved once the batch is known."""
        head = self._person(cid, household, None, None)
        members = [head]
        for k in range(1, size):
            members.append(self._person(cid + k, household, head, "partner" if k == 1 else "child"))
        return members

    def _company(self, cid: int) -> dict:
        rng = self.rng
        rnd = rng.random
        p = self._common(cid)
        street, plz, city = self._address()
        name = self.pools.company_names[int(rnd() * len(self.pools.company_names))]
        founded = self.today - int(365 * (1 + rnd() * 60))
        email = f"info@{self.pools.company_domains[name]}" if rnd() < 0.85 else ""
        p.update(
            kind="company",
            salutation="3",
            title="",
            first_name="",
            name=name,
            age=None,
            birth=founded if rnd() < 0.7 else None,
            email=email,
            phone=f"{AREA_CODES[int(rnd() * 18)]} {100000 + int(rnd() * 899999)}-0",
            street=street,
            postal_code=plz,
            city=city,
            household=None,
            occupation="",
            marital="",
            homeowner=rnd() < 0.4,
            cars=int(rnd() ** 2 * 12),
            children=0,
        )
        return p

    def _customer_row(self, m: dict, household_base: int) -> tuple[str, ...]:
        now = self.now
        return (
            str(m["id"]),
            now,
            now,
            f"K{m['id']:07d}",
            m["kind"],
            m["salutation"],
            m["title"],
            m["first_name"],
            m["name"],
            self.days.iso[m["birth"]] if m["birth"] is not None else NULL,
            m["email"],
            m["phone"],
            m["street"],
            m["postal_code"],
            m["city"],
            "DE",
            str(m["advisor"]),
            m["status"],
            str(household_base + m["household"]) if m["household"] is not None else NULL,
            str(m["referred_by"]) if m["referred_by"] is not None else NULL,
            m["occupation"],
            m["marital"],
            "1" if m["homeowner"] else "0",
            str(m["cars"]),
            str(m["children"]),
        )

    # -- contracts ---------------------------------------------------------------------------

    def _candidate_weights(self, m: dict) -> list[tuple[str, float]]:
        if m["kind"] == "company":
            return [("042", 35), ("051", 18 if m["cars"] else 3), ("052", 8 if m["cars"] else 0),
                    ("070", 10), ("080", 10), ("044", 6), ("170", 5), ("230", 4), ("110", 3)]  # fmt: skip
        age = m["age"]
        working = m["occupation"] in ("employed", "self_employed", "civil_servant")
        return [
            ("041", 30),
            ("130", 16),
            ("140", 22 if m["homeowner"] else 0),
            ("051", 22 if m["cars"] else 0),
            ("052", 9 if m["cars"] else 0),
            ("070", 10),
            ("030", 6 + (8 if m["children"] else 0)),
            ("BU", 9 if working and age < 55 else 0),
            ("010", 6 if age < 60 else 0),
            ("021", 10 if m["occupation"] in ("self_employed", "civil_servant") else (2 if working else 0)),
            ("024", 2 if m["occupation"] == "self_employed" else 0),
            ("110", 2),
        ]

    def _contract_lines(self, m: dict) -> list[str]:
        rnd = self.rng.random
        k = self.count_table[int(rnd() * 1000)]
        candidates = [(c, w) for c, w in self._candidate_weights(m) if w > 0]
        lines: list[str] = []
        kfz_left = max(m["cars"], 1) - 1 if m["kind"] == "person" else m["cars"]
        while len(lines) < k and candidates:
            total = sum(w for _, w in candidates)
            x = rnd() * total
            j = 0
            while j < len(candidates) - 1 and x > candidates[j][1]:
                x -= candidates[j][1]
                j += 1
            code = candidates[j][0]
            lines.append(code)
            if code == "051" and kfz_left > 0:
                kfz_left -= 1  # one Kfz-Haftpflicht per car
            else:
                candidates.pop(j)
        return lines

    def _contract(self, cid: int, customer_id: int, m: dict, code: str, bookings: list) -> tuple[tuple, bool]:
        rng = self.rng
        rnd = rng.random
        d = self.days
        spec = LINES[code]
        insurer_id, vu = self.insurer_tables[code][int(rnd() * 1000)]
        # Start: within the last 15 years, after the customer turned 18 (or was founded).
        earliest = self.today - 15 * 365
        if m["birth"] is not None and m["kind"] == "person":
            earliest = max(earliest, m["birth"] + 18 * 365 + 5)
        latest = self.today - 20
        earliest = min(earliest, latest - 1)
        start = latest - int((latest - earliest) * rnd() ** 1.4)
        if d.day[start] != 1 and rnd() < 0.6:
            start = d.ymd(d.year[start], d.month[start], 1)  # most contracts begin on the 1st
        if rnd() < spec.jan_first:
            main_due = start if (d.month[start], d.day[start]) == (1, 1) else d.ymd(d.year[start] + 1, 1, 1)
        else:
            main_due = start
        end = None
        if spec.one_off == "life" and m["birth"] is not None:
            end = d.ymd(d.year[m["birth"]] + 67, d.month[start], 1)
            if end <= start + 365:
                end = d.ymd(d.year[start] + 5, d.month[start], 1)
        r = rnd()
        status = "1"
        if r < 0.11 and start < self.today - 400:
            status = "4"  # cancelled at a Hauptfälligkeit between start + 1 year and today
            first_year = d.year[start] + 1
            year = first_year + int(rnd() * max(1, d.year[self.today] - first_year + 1))
            cancel = d.ymd(year, d.month[main_due], d.day[main_due])
            if cancel > self.today:
                cancel = d.ymd(d.year[self.today], d.month[self.today], 1)
            end = max(cancel, start + 1)
        elif r < 0.13 and spec.one_off == "life":
            status = "6"  # paid-up (beitragsfrei)
        premium_lo, premium_hi = spec.premium
        cents = int((premium_lo + (premium_hi - premium_lo) * rnd() ** 1.5) * 100)
        if status == "6":
            frequency = "9"
        else:
            r = rnd()
            if r < spec.monthly_share:
                frequency = "8"
            elif r < spec.monthly_share + (1 - spec.monthly_share) * 0.12:
                frequency = "4"
            elif r < spec.monthly_share + (1 - spec.monthly_share) * 0.25:
                frequency = "2"
            else:
                frequency = "1"
        # Unique (the ranges cid * 7 + 0..6 do not overlap) and rising with the id, as an insurer's
        # numbers rise over time: new keys land at the end of the unique index, not all over it.
        number = f"{100_000_000 + cid * 7 + int(rnd() * 7):09d}"
        policy = f"{vu[-2:]}-{number[:3]}.{number[3:]}" if rnd() < 0.5 else f"{code}{number}"
        self._one_off(cid, spec, start, end, status, cents, insurer_id, m, bookings)
        row = (
            str(cid),
            self.now,
            self.now,
            str(customer_id),
            str(insurer_id),
            str(self.refs.line_ids[code]),
            policy,
            status,
            d.iso[start],
            d.iso[end] if end is not None else NULL,
            d.iso[main_due],
            str(spec.notice_months),
            frequency,
            _money(cents),
        )
        active = status != "4" and (end is None or end > self.today)
        return row, active

    def _one_off(self, cid, spec, start, end, status, premium_cents, insurer_id, m, bookings) -> None:
        """Abschlusscourtage of Leben/BU/PKV and its claw-back when cancelled within 5 years."""
        if not spec.one_off:
            return
        rnd = self.rng.random
        d = self.days
        if spec.one_off == "life":
            years = max(5, min(40, (d.year[end] - d.year[start]) if end is not None else 25))
            if status == "4":  # a cancelled contract's original term is not known any more
                years = 25
            amount = premium_cents * years * (25 + int(rnd() * 16)) // 1000
        else:
            amount = premium_cents // 12 * (5 + int(rnd() * 5))
        start_month = d.year[start] * 12 + d.month[start] - 1
        day = self.refs.statement_day[insurer_id]
        vu = self.refs.vu_number[insurer_id]
        acq_month = start_month + 1
        if self.ledger_first <= acq_month <= self.ledger_last:
            bookings.append(self._booking(cid, acq_month, day, amount, "acquisition", vu))
        if status == "4" and end is not None:
            end_month = d.year[end] * 12 + d.month[end] - 1
            months_in_force = end_month - start_month
            back = amount * (CLAWBACK_MONTHS - months_in_force) // CLAWBACK_MONTHS
            claw_month = end_month + 1
            if back > 0 and self.ledger_first <= claw_month <= self.ledger_last:
                bookings.append(self._booking(cid, claw_month, day, -back, "clawback", vu))

    def _booking(self, contract_id, month_index, day, cents, kind, vu) -> tuple[str, ...]:
        year, month = divmod(month_index, 12)
        return (
            str(contract_id),
            f"{year:04d}-{month + 1:02d}-{day:02d}",
            _money(cents),
            kind,
            f"CA {vu} {year:04d}-{month + 1:02d}",
            self.now,
            NULL,
        )

    # -- consents and activities ---------------------------------------------------------------

    def _consents(self, m: dict, out: list) -> None:
        rnd = self.rng.random
        shares = (
            ("post", 0.25),
            ("email", 0.35 if m["email"] else 0.0),
            ("phone", 0.25 if m["phone"] else 0.0),
        )
        for channel, share in shares:
            if rnd() < share:
                granted = self.today - int(rnd() * 6 * 365)
                withdrawn = NULL
                if rnd() < 0.04:
                    withdrawn = self.days.iso[granted + int(rnd() * (self.today - granted))]
                out.append(
                    (
                        str(m["id"]),
                        channel,
                        self.days.iso[granted],
                        CONSENT_SOURCES[int(rnd() * len(CONSENT_SOURCES))],
                        CONSENT_WORDING[channel],
                        withdrawn,
                        self.now,
                        self.now,
                    )
                )

    def _activities(self, m: dict, out: list) -> None:
        rnd = self.rng.random
        if rnd() >= 0.1:
            return
        kinds = list(ACTIVITY_SUBJECTS)
        for _ in range(1 + int(rnd() * 3)):
            kind = kinds[int(rnd() * len(kinds))]
            subjects = ACTIVITY_SUBJECTS[kind]
            day = self.today - int(rnd() * 730)
            minute = 8 * 60 + int(rnd() * 600)
            when = f"{self.days.iso[day]} {minute // 60:02d}:{minute % 60:02d}:00+00:00"
            out.append(
                (
                    str(m["id"]),
                    kind,
                    when,
                    subjects[int(rnd() * len(subjects))],
                    "",
                    str(m["advisor"]),
                    self.now,
                )
            )


# --------------------------------------------------------------------------------------------
# Set-based recurring Courtage: one statement per batch, the same on both databases.


class _Dialect:
    def __init__(self, vendor: str):
        self.pg = vendor == "postgresql"

    def with_(self) -> str:
        return (
            "WITH"
            if self.pg
            else "WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < 23),"
        )

    def month_index(self, col: str) -> str:
        if self.pg:  # date_part (float) is cheaper than EXTRACT (numeric)
            return f"CAST(date_part('year', {col}) * 12 + date_part('month', {col}) - 1 AS INTEGER)"
        return f"(CAST(strftime('%%Y', {col}) AS INTEGER) * 12 + CAST(strftime('%%m', {col}) AS INTEGER) - 1)"

    def make_date(self, month_index: str, day: str) -> str:
        if self.pg:
            return (
                f"make_date(CAST(({month_index}) / 12 AS INTEGER), "
                f"CAST(({month_index}) %% 12 + 1 AS INTEGER), CAST({day} AS INTEGER))"
            )
        return f"printf('%%04d-%%02d-%%02d', ({month_index}) / 12, ({month_index}) %% 12 + 1, {day})"

    def greatest(self, a: str, b: str) -> str:
        return f"{'GREATEST' if self.pg else 'MAX'}({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"{'LEAST' if self.pg else 'MIN'}({a}, {b})"

    def payment_months(self, first: str, last: str, step: str) -> tuple[str, str]:
        """(join, month): one row per month first, first + step, ... up to last."""
        if self.pg:
            return f"CROSS JOIN LATERAL generate_series({first}, {last}, {step}) AS g(m)", "g.m"
        return f"JOIN n ON {first} + n.k * {step} <= {last}", f"({first} + n.k * {step})"


def recurring_courtage_sql(vendor: str, refs: Refs) -> str:
    """INSERT the Bestandscourtage of contracts lo..hi for every premium payment in the ledger
    months [first, last]: one booking per payment, amount = premium × rate / payments per year,
    on the insurer's statement day of the month. Params: lo, hi, first, last, created_at."""
    q = _Dialect(vendor)
    rates = ", ".join(
        f"({refs.line_ids[code]}, {spec.courtage_bp})" for code, spec in LINES.items() if spec.courtage_bp
    )
    insurers = ", ".join(f"({i}, {day}, '{refs.vu_number[i]}')" for i, day in refs.statement_day.items())
    b = CommissionBooking._meta.db_table
    c = Contract._meta.db_table
    payments, month = q.payment_months("p.f", "p.e", "p.step")
    return f"""
        INSERT INTO {b} (contract_id, booked_on, amount, kind, statement_reference, created_at, created_by_id)
        {q.with_()}
        r(line_id, rate_bp) AS (VALUES {rates}),
        ins(insurer_id, day, vu) AS (VALUES {insurers}),
        cc AS (
            SELECT c.id, ins.day, ins.vu,
                   CAST(ROUND(c.annual_premium * 100) AS BIGINT) * r.rate_bp AS x,
                   CASE c.payment_frequency WHEN '8' THEN 1 WHEN '4' THEN 3 WHEN '2' THEN 6 ELSE 12 END AS step,
                   {q.month_index("c.start_date")} AS s,
                   CASE WHEN c.end_date IS NULL THEN %s
                        ELSE {q.least(q.month_index("c.end_date") + " - 1", "%s")} END AS e
            FROM {c} c
            JOIN r ON r.line_id = c.line_of_business_id
            JOIN ins ON ins.insurer_id = c.insurer_id
            WHERE c.id BETWEEN %s AND %s AND c.payment_frequency IN ('1', '2', '4', '8')
        ),
        p AS (
            SELECT cc.*, s + (({q.greatest("s", "%s")} - s + step - 1) / step) * step AS f FROM cc
        )
        SELECT p.id,
               {q.make_date(month, "p.day")},
               {q.greatest("p.x * p.step / 120000", "1")} / 100.0,
               'recurring',
               'CA ' || p.vu || ' ' || CAST({month} / 12 AS TEXT) || '-'
                   || SUBSTR(CAST(101 + {month} %% 12 AS TEXT), 2),
               %s,
               NULL
        FROM p {payments}
    """


# --------------------------------------------------------------------------------------------
# Writers


def _default_text(f: models.Field) -> str:
    value = f.get_default()
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


def _defaults(model: type[models.Model], written: list[str]) -> tuple[list[str], tuple]:
    """Columns of `model` that the generator does not write, with the field's default."""
    cols, values = [], []
    for f in model._meta.concrete_fields:
        if f.attname in written or f.primary_key or f.generated:  # the database computes those
            continue
        if not f.has_default() and not f.null and not getattr(f, "auto_now", False):
            raise RuntimeError(f"seed_demo: {model.__name__}.{f.name} needs a value")
        cols.append(f.column)
        values.append(_default_text(f))
    return cols, tuple(values)


class _Writer:
    def __init__(self, refs: Refs, vendor: str):
        self.vendor = vendor
        self.recurring_sql = recurring_courtage_sql(vendor, refs)
        self.seconds: dict[str, float] = {}  # time spent per step, for `seed_demo -v 2` and the bench
        self._lock = threading.Lock()

    def _timed(self, step: str, started: float) -> float:
        now = time.monotonic()
        with self._lock:
            self.seconds[step] = self.seconds.get(step, 0.0) + now - started
        return now

    def write(self, batch: Batch, gen: BookGenerator, now_db) -> int:
        """Write one batch in one transaction; returns the number of bookings."""
        t = time.monotonic()
        with transaction.atomic(), connection.cursor() as cursor:
            self.before(cursor)
            for model in WRITE_ORDER:
                rows = batch.rows[model.__name__]
                if rows:
                    self.insert(cursor, model, rows)
                    t = self._timed(model.__name__, t)
            lo, hi = batch.contract_ids
            recurring = 0
            if hi >= lo:
                cursor.execute(
                    self.recurring_sql,
                    [gen.ledger_last, gen.ledger_last, lo, hi, gen.ledger_first, now_db],
                )
                recurring = cursor.rowcount
                t = self._timed("recurring Courtage (SQL)", t)
            self.check(cursor, batch)
            t = self._timed("foreign-key check", t)
            self.after(cursor)
        self._timed("commit", t)
        return recurring + len(batch.rows["CommissionBooking"])

    def before(self, cursor) -> None:
        pass

    def after(self, cursor) -> None:
        pass

    def check(self, cursor, batch: Batch) -> None:
        pass


class _SqliteWriter(_Writer):
    """bulk_create: model instances from the same rows (strings are converted by the fields)."""

    batch_size = 500

    def insert(self, cursor, model, rows) -> None:
        columns = COLUMNS[model]
        names = [model._meta.get_field(c.removesuffix("_id")).attname if c != "id" else "id" for c in columns]
        objs = [
            model(**{k: (None if v is NULL else v) for k, v in zip(names, row, strict=True)}) for row in rows
        ]
        model.objects.bulk_create(objs, batch_size=self.batch_size)


class _PostgresWriter(_Writer):
    """COPY FROM STDIN with explicit ids.

    The per-row foreign-key triggers cost as much as the rows themselves; a superuser session
    skips them (session_replication_role = replica, as pg_restore does) and the batch proves its
    foreign keys instead (`check`)."""

    def __init__(self, refs: Refs, vendor: str, *, skip_fk_triggers: bool):
        super().__init__(refs, vendor)
        self.skip_fk_triggers = skip_fk_triggers
        self.extra = {m: _defaults(m, COLUMNS[m]) for m in WRITE_ORDER}
        self.refs_locked: list[tuple[type[models.Model], set[int]]] = [
            (User, set(refs.users)),
            (Insurer, set(refs.statement_day)),
            (LineOfBusiness, set(refs.line_ids.values())),
        ]

    def before(self, cursor) -> None:
        cursor.execute("SET LOCAL synchronous_commit = off")
        if self.skip_fk_triggers:
            cursor.execute("SET LOCAL session_replication_role = replica")
        self.before_rows(cursor)

    def after(self, cursor) -> None:
        # SET LOCAL ends with the transaction; inside an outer transaction (tests) the batch is
        # only a savepoint, so switch the triggers back on explicitly.
        if self.skip_fk_triggers:
            cursor.execute("SET LOCAL session_replication_role = origin")

    def insert(self, cursor, model, rows) -> None:
        extra_cols, extra_vals = self.extra[model]
        columns = [
            model._meta.get_field(c.removesuffix("_id")).column if c != "id" else "id" for c in COLUMNS[model]
        ]
        suffix = ("\t" + "\t".join(extra_vals)) if extra_cols else ""
        buf = io.StringIO("\n".join("\t".join(r) + suffix for r in rows) + "\n")
        cols = ", ".join(f'"{c}"' for c in columns + extra_cols)
        cursor.copy_expert(f"COPY {model._meta.db_table} ({cols}) FROM STDIN", buf)

    def before_rows(self, cursor) -> None:
        if self.skip_fk_triggers:
            # Rows outside the batch that it points to must not vanish before the commit.
            for model, ids in self.refs_locked:
                cursor.execute(
                    f"SELECT 1 FROM {model._meta.db_table} WHERE id = ANY(%s) FOR KEY SHARE", [sorted(ids)]
                )

    def check(self, cursor, batch: Batch) -> None:
        """Without the row triggers, prove the batch's foreign keys before it commits: every
        reference points into the id ranges this transaction writes, or to a row locked above.
        The recurring bookings are made by joining the batch's contracts, so they need no check."""
        if not self.skip_fk_triggers:
            return
        households = batch.rows["Household"]
        inside = {
            Customer: batch.customer_ids,
            Contract: batch.contract_ids,
            Household: (int(households[0][0]), int(households[-1][0])) if households else (1, 0),
        }
        outside = dict(self.refs_locked)
        for model in WRITE_ORDER:
            rows = batch.rows[model.__name__]
            for position, column in enumerate(COLUMNS[model]):
                if not column.endswith("_id"):
                    continue
                target = model._meta.get_field(column.removesuffix("_id")).related_model
                values = {int(v) for v in {row[position] for row in rows} if v != NULL}
                if target in inside:
                    lo, hi = inside[target]
                    bad = [v for v in values if not lo <= v <= hi]
                else:
                    bad = sorted(values - outside[target])
                if bad:
                    raise RuntimeError(f"seed_demo: {model.__name__}.{column} points to missing id {bad[0]}")


# --------------------------------------------------------------------------------------------
# Reference data and ids


def ensure_demo_users() -> list[User]:
    """The demo owner and office staff (password DEMO_PASSWORD, demo only); kept if they exist."""
    users = []
    for username, first, last, group, _share in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@demo.brokercrm.invalid"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=group))
        users.append(user)
    return users


def ensure_insurers() -> dict[str, list[tuple[int, str]]]:
    by_kind: dict[str, list[tuple[int, str]]] = {}
    for name, vu, kind in INSURERS:
        insurer = (
            Insurer.objects.filter(vu_number=vu).first()
            or Insurer.objects.get_or_create(name=name, defaults={"vu_number": vu})[0]
        )
        by_kind.setdefault(kind, []).append((insurer.pk, insurer.vu_number or vu))
    return by_kind


def load_refs(users: list[User]) -> Refs:
    by_kind = ensure_insurers()
    line_ids = dict(LineOfBusiness.objects.filter(code__in=list(LINES)).values_list("code", "id"))
    missing = set(LINES) - set(line_ids)
    if missing:
        raise RuntimeError(f"seed_demo: lines of business missing (run migrate): {sorted(missing)}")
    statement_day, vu_number = {}, {}
    for insurers in by_kind.values():
        for pk, vu in insurers:
            statement_day[pk] = int(vu) % 28 + 1
            vu_number[pk] = vu
    advisors = _pick_table([u.pk for u in users], [share for *_, share in DEMO_USERS])
    return Refs(
        advisors=advisors,
        users=[u.pk for u in users],
        line_ids=line_ids,
        insurers_by_kind=by_kind,
        statement_day=statement_day,
        vu_number=vu_number,
    )


class _Ids:
    """Reserve id ranges up front: from the identity sequence on PostgreSQL (safe with other
    writers), from max(id) on SQLite (the batch transaction holds the write lock)."""

    def __init__(self, vendor: str):
        self.pg = vendor == "postgresql"
        self.next: dict[type[models.Model], int] = {}

    def reserve(self, model: type[models.Model], n: int) -> int:
        if n <= 0:
            return self.next.get(model, 1)
        table = model._meta.db_table
        with connection.cursor() as cursor:
            if self.pg:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
                    [table, table, n],
                )
                last = cursor.fetchone()[0]
                return last - n + 1
            if model not in self.next:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
                self.next[model] = cursor.fetchone()[0] + 1
            first = self.next[model]
            self.next[model] = first + n
            return first


def _can_skip_fk_triggers() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('is_superuser')")
        return cursor.fetchone()[0] == "on"


# --------------------------------------------------------------------------------------------
# The service


def seed_demo(
    *,
    customers: int,
    seed: int = 42,
    batch_size: int = DEFAULT_BATCH_SIZE,
    as_of: dt.date | None = None,
    progress: bool = True,
    pipeline: bool | None = None,
    writers: int = 2,
) -> SeedResult:
    """Build a demo book of `customers` customers (see the module docstring).

    `pipeline` writes batches from `writers` threads, each with its own database connection,
    while the next batches are generated; batches are independent (ids reserved up front,
    households and referrals within a batch), so they commit in any order. It is off inside an
    open transaction (tests) and on SQLite (one writer at a time)."""
    from tqdm import tqdm

    started = time.monotonic()
    as_of = as_of or timezone.localdate()
    vendor = connection.vendor
    if pipeline is None:
        pipeline = vendor == "postgresql" and not connection.in_atomic_block
    now = timezone.now()
    now_db = (
        str(now.astimezone(dt.UTC))
        if vendor == "postgresql"
        else connection.ops.adapt_datetimefield_value(now)
    )
    with transaction.atomic():
        users = ensure_demo_users()
        refs = load_refs(users)
    pools = Pools.build(seed)
    gen = BookGenerator(seed=seed, as_of=as_of, refs=refs, now=now, pools=pools)
    if vendor == "postgresql":
        writer: _Writer = _PostgresWriter(refs, vendor, skip_fk_triggers=_can_skip_fk_triggers())
    else:
        writer = _SqliteWriter(refs, vendor)
    ids = _Ids(vendor)
    result = SeedResult()
    bar = tqdm(total=customers, unit=" customers", disable=not progress, dynamic_ncols=True, smoothing=0.1)

    def count(batch: Batch, bookings: int) -> None:
        result.customers += len(batch.rows["Customer"])
        result.households += len(batch.rows["Household"])
        result.contracts += len(batch.rows["Contract"])
        result.consents += len(batch.rows["MarketingConsent"])
        result.activities += len(batch.rows["Activity"])
        result.bookings += bookings
        bar.update(len(batch.rows["Customer"]))
        bar.set_postfix(contracts=result.contracts, bookings=result.bookings, refresh=False)

    def batches():
        done = 0
        while done < customers:
            n = min(batch_size, customers - done)
            t = time.monotonic()
            batch = gen.batch(n, ids.reserve(Customer, n), ids.reserve)
            result.steps["generate rows (Python)"] = result.steps.get("generate rows (Python)", 0.0) + (
                time.monotonic() - t
            )
            yield batch
            done += n

    try:
        if not pipeline:
            for batch in batches():
                count(batch, writer.write(batch, gen, now_db))
        else:
            _run_pipelined(batches(), writer, gen, now_db, count, max(1, writers))
    finally:
        bar.close()
    result.steps.update(writer.seconds)
    result.seconds = time.monotonic() - started
    return result


def _run_pipelined(batches, writer: _Writer, gen: BookGenerator, now_db, count, writers: int) -> None:
    """Generate in this thread, write in others: the database works while Python builds rows."""
    from django.db import connections

    todo: queue.Queue = queue.Queue(maxsize=writers + 1)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            while (batch := todo.get()) is not None:
                if not errors:
                    bookings = writer.write(batch, gen, now_db)
                    with lock:
                        count(batch, bookings)
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)
            while todo.get() is not None:
                pass
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=work, name=f"seed-demo-writer-{i}", daemon=True) for i in range(writers)
    ]
    for thread in threads:
        thread.start()
    try:
        for batch in batches:
            if errors:
                break
            todo.put(batch)
    finally:
        for _ in threads:
            todo.put(None)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def database_is_empty() -> bool:
    return not Customer.objects.exists()
