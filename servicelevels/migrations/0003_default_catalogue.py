"""Data: the default service-level catalogue, following the seed (two tracks per class), and the
default cost settings. The texts are the firm's own content (German market first); the owner
edits them on the service-level page.

C: standard basic package with few resources. B: premium care, no extra potential work.
A: B's care plus unobtrusive potential raising. O: the basic package plus the most systematic
potential programme.
"""

from decimal import Decimal

from django.db import migrations

SERVICE_ON_REQUEST = (
    "Service auf Anfrage: Schäden, Fragen und Änderungen werden bearbeitet, wenn der Kunde sich meldet."
)
PREMIUM = (
    "Bevorzugte Schadenbearbeitung (Schäden dieser Kunden zuerst); Dank und Pflege bei Empfehlungen "
    "(persönlicher Dank für jede Empfehlung)."
)

BASIC = [
    dict(
        name="Jahresbrief / Kundeninformation",
        track="care",
        recurrence="every_n_months",
        interval_months=12,
        channel="letter",
        marketing=False,
        minutes=10,
        performer="staff",
        instruction="Standardbrief oder Newsletter mit Vertragsübersicht und Hinweis auf den Service auf Anfrage versenden.",
    ),
    dict(
        name="Geburtstagsgruß per E-Mail",
        track="care",
        recurrence="birthday",
        channel="email",
        marketing=True,
        minutes=3,
        performer="staff",
        instruction="Standard-Geburtstagsmail senden. Ohne E-Mail-Einwilligung: Standard-Geburtstagskarte per Post.",
    ),
]

PREMIUM_CARE = [
    dict(
        name="Willkommen in der Premium-Betreuung",
        track="care",
        recurrence="on_entry",
        days_after=7,
        channel="letter",
        marketing=False,
        minutes=10,
        performer="owner",
        instruction="Persönlicher Brief des Inhabers: Dank für das Vertrauen, direkter Ansprechpartner, bevorzugte Schadenbearbeitung.",
    ),
    dict(
        name="Jahresgespräch mit dem Inhaber",
        track="care",
        recurrence="every_n_months",
        interval_months=12,
        channel="meeting",
        marketing=False,
        minutes=60,
        performer="owner",
        instruction="Persönliches Jahresgespräch: Verträge durchgehen, Zufriedenheit erfragen, für Empfehlungen danken. Kein Verkaufsdruck.",
    ),
    dict(
        name="Geburtstagskarte",
        track="care",
        recurrence="birthday",
        channel="letter",
        marketing=False,
        minutes=5,
        performer="staff",
        instruction="Karte rechtzeitig versenden, vom Inhaber unterschrieben.",
    ),
    dict(
        name="Vertragscheck vor der Hauptfälligkeit",
        track="care",
        recurrence="before_main_due",
        weeks_before=16,
        channel="phone",
        marketing=True,
        minutes=10,
        performer="staff",
        instruction="Vor Beginn der Kündigungsfrist anrufen: Passt der Vertrag noch, stimmen Beitrag und Bedingungen? Ohne Telefon-Einwilligung: Brief mit Gesprächsangebot.",
    ),
]

A_POTENTIAL = [
    dict(
        name="Bedarfsanalyse",
        track="potential",
        recurrence="on_entry",
        days_after=30,
        channel="meeting",
        marketing=False,
        minutes=45,
        performer="owner",
        instruction="Im persönlichen Termin unaufdringlich den Bedarf aufnehmen: Lebenssituation, Fremdverträge, Pläne.",
    ),
    dict(
        name="Angebot für eine wichtige Versorgungslücke",
        track="potential",
        recurrence="per_gap",
        days_after=21,
        min_gap_value=Decimal("100.00"),
        channel="letter",
        marketing=False,
        minutes=30,
        performer="staff",
        instruction="Angebot für die Sparte der Lücke ausarbeiten und mit persönlichem Anschreiben senden.",
    ),
    dict(
        name="Nachfassen zum Angebot",
        track="potential",
        recurrence="per_gap",
        days_after=42,
        min_gap_value=Decimal("100.00"),
        channel="phone",
        marketing=True,
        minutes=15,
        performer="owner",
        instruction="Drei Wochen nach dem Angebot nachfassen und Fragen klären; nicht drängen.",
    ),
]

O_PROGRAMME = [
    dict(
        name="Bedarfsanalyse-Telefonat",
        track="potential",
        recurrence="on_entry",
        days_after=14,
        channel="phone",
        marketing=True,
        minutes=20,
        performer="staff",
        instruction="Kurz nach dem Eintritt anrufen: Lebenssituation und Absicherung erfragen, Termin anbieten. Ohne Einwilligung: Brief mit Bedarfsfragebogen und Rückantwort.",
    ),
    dict(
        name="Angebot für die größte Lücke",
        track="potential",
        recurrence="per_gap",
        days_after=28,
        biggest_gap_only=True,
        channel="letter",
        marketing=False,
        minutes=30,
        performer="staff",
        instruction="Angebot für die Sparte der größten Lücke ausarbeiten und mit persönlichem Anschreiben senden.",
    ),
    dict(
        name="Nachfassen zum Angebot",
        track="potential",
        recurrence="per_gap",
        days_after=49,
        biggest_gap_only=True,
        channel="phone",
        marketing=True,
        minutes=10,
        performer="staff",
        instruction="Drei Wochen nach dem Angebot nachfassen, Fragen klären, Termin anbieten.",
    ),
    dict(
        name="Bedarfs-Check (halbjährlich)",
        track="potential",
        recurrence="every_n_months",
        interval_months=6,
        channel="phone",
        marketing=True,
        minutes=15,
        performer="staff",
        instruction="Hat sich etwas geändert (Heirat, Kind, Hauskauf, neuer Job, Ruhestand)? Neue Lücken ansprechen.",
    ),
]

CATALOGUE = {
    "A": ("Premium-Betreuung mit Potenzialausbau", f"{PREMIUM} Dazu: das Potenzial systematisch und unaufdringlich heben.", PREMIUM_CARE + A_POTENTIAL),
    "B": ("Premium-Betreuung", f"{PREMIUM} Kein zusätzlicher Ausbau: zusätzlicher Aufwand geht zu den potenzialstarken Klassen.", PREMIUM_CARE),
    "C": ("Basispaket", f"Standardisierte Betreuung mit wenig Aufwand. {SERVICE_ON_REQUEST}", BASIC),
    "O": ("Basispaket mit Potenzialprogramm", f"{SERVICE_ON_REQUEST} Dazu das systematischste Programm zum Heben des Potenzials (oft 1-Vertrags-Kunden).", BASIC + O_PROGRAMME),
}  # fmt: skip


def seed(apps, schema_editor):
    ServiceLevel = apps.get_model("servicelevels", "ServiceLevel")
    CareActivity = apps.get_model("servicelevels", "CareActivity")
    CostSettings = apps.get_model("servicelevels", "CostSettings")
    CostSettings.objects.get_or_create(pk=1)
    for segment, (name, description, activities) in CATALOGUE.items():
        level, created = ServiceLevel.objects.get_or_create(
            segment=segment, defaults={"name": name, "description": description}
        )
        if not created:
            continue
        CareActivity.objects.bulk_create(
            CareActivity(service_level=level, position=(i + 1) * 10, **data) for i, data in enumerate(activities)
        )


def unseed(apps, schema_editor):
    apps.get_model("servicelevels", "CareTask").objects.all().delete()
    apps.get_model("servicelevels", "CareActivity").objects.all().delete()
    apps.get_model("servicelevels", "ServiceLevel").objects.filter(segment__in=CATALOGUE).delete()
    apps.get_model("servicelevels", "CostSettings").objects.filter(pk=1).delete()


class Migration(migrations.Migration):
    dependencies = [("servicelevels", "0002_staff_permissions")]
    operations = [migrations.RunPython(seed, unseed)]
