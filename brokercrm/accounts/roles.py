"""The two roles of a broker firm, as Django groups (created by a data migration).

Inhaber (owner): every permission, including the owner area (policy, service levels,
dashboards, users). Innendienst (office staff): customers, contracts, bookings, activities
and care tasks; nothing of the owner area.
"""

OWNER_GROUP = "Inhaber"
STAFF_GROUP = "Innendienst"

# Custom permission that marks the owner area (segment dashboards, policy, catalogue, settings).
OWNER_PERMISSION = "accounts.access_owner_area"

# App labels and models whose add/change/view (and delete, where allowed) staff get.
STAFF_MODEL_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": {
        "customer": ("add", "change", "view"),
        "household": ("add", "change", "view"),
        "contract": ("add", "change", "view", "delete"),
        "commissionbooking": ("add", "change", "view"),
        "activity": ("add", "change", "view"),
        "marketingconsent": ("add", "change", "view"),
        "insurer": ("view",),
        "lineofbusiness": ("view",),
    },
    "servicelevels": {
        "caretask": ("change", "view"),
    },
}
