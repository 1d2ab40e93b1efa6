"""Data: the first policy version and the default recommendation rules.

Expected annual Courtage from the German levels in the domain notes: Sach/HUK lines pay a share
of the net premium every year (Privathaftpflicht and Wohngebäude ~25 %, Sach 10-25 %, Kfz
8-10 %); BU (a Leben product) pays a one-off Abschlusscourtage of ~4 % of the Beitragssumme.
Typical premiums: PHV 50-150 €/yr, Hausrat 60-250, Wohngebäude 300-1,500, Rechtsschutz 130-375,
Kfz 185-1,100, BU 40-150 €/month.
"""

from decimal import Decimal

from django.db import migrations

# (name, line code, conditions, expected annual commission)
RULES = [
    ("Privathaftpflicht für jeden Erwachsenen", "041",
     {"customer_kind": "person", "min_age": 18, "scope": "household"}, "22.50",
     "Premium ~90 €/yr at ~25 %; one family policy covers the household."),
    ("Hausrat je Haushalt", "130",
     {"customer_kind": "person", "scope": "household"}, "30.00",
     "Premium ~150 €/yr at ~20 %."),
    ("Wohngebäude für Eigentümer", "140",
     {"homeowner": True, "scope": "household"}, "200.00",
     "Premium ~800 €/yr at ~25 %."),
    ("Kfz-Haftpflicht je Auto", "051",
     {"car_owner": True, "per_car": True}, "45.00",
     "Premium ~500 €/yr at ~9 %, per car without cover."),
    ("Berufsunfähigkeit für Erwerbstätige unter 55", "BU",
     {"customer_kind": "person", "min_age": 18, "max_age": 54, "occupations": ["employed", "self_employed"]},
     "900.00",
     "One-off Abschlusscourtage ~4 % of a 25-year Beitragssumme at ~75 €/month."),
    ("Rechtsschutz je Haushalt", "070",
     {"customer_kind": "person", "min_age": 18, "scope": "household"}, "50.00",
     "Premium ~250 €/yr at ~20 %."),
    ("Unfall für Familien mit Kindern", "030",
     {"customer_kind": "person", "has_children": True, "scope": "household"}, "40.00",
     "Family accident policy, premium ~200 €/yr at ~20 %."),
    ("Betriebshaftpflicht für Firmen", "042",
     {"customer_kind": "company"}, "150.00",
     "Premium ~1,000 €/yr at ~15 %."),
]


def seed(apps, schema_editor):
    Policy = apps.get_model("segmentation", "SegmentationPolicy")
    Rule = apps.get_model("segmentation", "RecommendationRule")
    LineOfBusiness = apps.get_model("customers", "LineOfBusiness")
    if not Policy.objects.exists():
        Policy.objects.create(
            version=1,
            is_active=True,
            revenue_method="absolute",
            revenue_value=Decimal("400.00"),
            potential_method="absolute",
            potential_value=Decimal("300.00"),
            hysteresis_percent=Decimal("10"),
            revenue_window_months=12,
            note="Default",
        )
    if Rule.objects.exists():
        return
    lines = {line.code: line for line in LineOfBusiness.objects.filter(code__in=[r[1] for r in RULES])}
    Rule.objects.bulk_create(
        Rule(name=name, line_of_business=lines[code], expected_commission=Decimal(value), note=note, **conditions)
        for name, code, conditions, value, note in RULES
        if code in lines
    )


def unseed(apps, schema_editor):
    apps.get_model("segmentation", "RecommendationRule").objects.filter(name__in=[r[0] for r in RULES]).delete()
    apps.get_model("segmentation", "SegmentationPolicy").objects.filter(version=1, runs__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("segmentation", "0001_initial"),
        ("customers", "0002_lines_of_business"),
    ]
    operations = [migrations.RunPython(seed, unseed)]
