"""The set-based SQL of the reclassification job, portable between PostgreSQL and SQLite (>= 3.33:
window functions, UPDATE ... FROM, INSERT ... ON CONFLICT).

Money is computed in whole cents (BIGINT) so both databases give identical results: SQLite keeps
decimals as floating point, which is exact to the cent for sums of this size once rounded.

A chunk (customer-id range) runs these steps inside one transaction:

1. ``components``: the customer's potential components into the temp table ``seg_tmp_component``
   (gaps from the run's rule snapshot, Fremdverträge, adjustments in force), then diffed into
   ``segmentation_potentialcomponent`` (rows that did not change are not touched).
2. ``figures``: revenue (from ``segmentation_runrevenue``, computed once per run in one pass over
   the ledger) and potential (sum of components) per customer, with the biggest gap.
3. ``classify``: computed class with hysteresis, effective class with overrides, into
   ``seg_tmp_class``: straight from the figures (one pass), or, in a two-pass run (quantile or
   Pareto thresholds need every customer's figures first), from ``segmentation_runfigure``
   written by phase 1.
4. ``apply``: changed customers (UPDATE ... FROM), history rows (one per customer and day),
   overrides (computed class kept, expired ones ended), and the chunk's counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from customers import gdv

ACTIVE_STATUSES_SQL = ", ".join(f"'{s}'" for s in gdv.ACTIVE_CONTRACT_STATUSES)
FORMER = "former"

_TEMP_TABLES = {
    "seg_tmp_component": (
        "customer_id BIGINT NOT NULL, kind VARCHAR(12) NOT NULL, source_id BIGINT NOT NULL, "
        "line_of_business_id BIGINT NULL, value_cents BIGINT NOT NULL, label VARCHAR(300) NOT NULL"
    ),
    "seg_tmp_class": (
        "customer_id BIGINT NOT NULL PRIMARY KEY, revenue_cents BIGINT NOT NULL, "
        "potential_cents BIGINT NOT NULL, biggest_gap_id BIGINT NULL, old_segment VARCHAR(1) NOT NULL, "
        "computed VARCHAR(1) NOT NULL, effective VARCHAR(1) NOT NULL, override_id BIGINT NULL, "
        "override_state SMALLINT NOT NULL, changed SMALLINT NOT NULL"
    ),
}
# No indexes and no ANALYZE on the temp tables: a chunk's rows are joined by hash, and PostgreSQL
# estimates an unanalysed table's rows from its current size.
_TEMP_INDEXES: dict[str, str] = {}

# Override states in seg_tmp_class.
NO_OVERRIDE, OVERRIDE_ACTIVE, OVERRIDE_EXPIRED, OVERRIDE_FUTURE = 0, 1, 2, 3


def cents_sql(expr: str) -> str:
    return f"CAST(ROUND(({expr}) * 100) AS BIGINT)"


def rule_matches_sql(alias: str) -> str:
    """SQL condition: rule ``r`` (a segmentation_runrule row) applies to customer ``alias``.
    NULL facts (unknown birth date) never satisfy a condition."""
    a = alias
    return f"""
        (r.customer_kind = '' OR r.customer_kind = {a}.kind)
        AND (r.born_on_or_before IS NULL OR {a}.birth_date <= r.born_on_or_before)
        AND (r.born_after IS NULL OR {a}.birth_date > r.born_after)
        AND (r.homeowner IS NULL OR {a}.homeowner = r.homeowner)
        AND (r.car_owner IS NULL OR ({a}.cars > 0) = r.car_owner)
        AND (r.has_children IS NULL OR ({a}.children > 0) = r.has_children)
        AND (r.occupations = '' OR r.occupations LIKE '%%,' || {a}.occupation || ',%%')
        AND (r.marital_statuses = '' OR r.marital_statuses LIKE '%%,' || {a}.marital_status || ',%%')
    """


# PostgreSQL: "OFFSET 0" keeps a subquery a per-row index probe (a SubPlan) instead of letting the
# planner flatten it into a join over the whole table, which it may prefer when statistics are
# stale (e.g. right after a big import). SQLite always probes by index.
FENCE = "OFFSET 0" if connection.vendor == "postgresql" else ""


# Per chunk, the lines its customers hold (contracts with us in force, and Fremdverträge), and
# the lines held anywhere in their households, are gathered once; the rules are then matched
# against them by hash joins rather than by a probe per customer and rule.
GAPS_SQL = f"""
WITH held AS (
    SELECT x.customer_id, x.line_of_business_id, SUM(x.n) AS n
    FROM (
        SELECT k.customer_id, k.line_of_business_id, COUNT(*) AS n FROM customers_contract k
        WHERE k.customer_id BETWEEN %(lo)s AND %(hi)s AND k.status IN ({ACTIVE_STATUSES_SQL})
        GROUP BY k.customer_id, k.line_of_business_id
        UNION ALL
        SELECT t.customer_id, t.line_of_business_id, COUNT(*) FROM segmentation_thirdpartycontract t
        WHERE t.customer_id BETWEEN %(lo)s AND %(hi)s
        GROUP BY t.customer_id, t.line_of_business_id
    ) x
    GROUP BY x.customer_id, x.line_of_business_id
),
chunk_households AS (
    SELECT DISTINCT c2.household_id FROM customers_customer c2
    WHERE c2.id BETWEEN %(lo)s AND %(hi)s AND c2.household_id IS NOT NULL
),
household_held AS (
    SELECT m.household_id, k.line_of_business_id
    FROM customers_customer m JOIN customers_contract k ON k.customer_id = m.id
    WHERE k.status IN ({ACTIVE_STATUSES_SQL}) AND m.household_id IN (SELECT household_id FROM chunk_households)
    UNION
    SELECT m.household_id, t.line_of_business_id
    FROM customers_customer m JOIN segmentation_thirdpartycontract t ON t.customer_id = m.id
    WHERE m.household_id IN (SELECT household_id FROM chunk_households)
)
INSERT INTO seg_tmp_component (customer_id, kind, source_id, line_of_business_id, value_cents, label)
SELECT c.id, 'gap', r.rule_id, r.line_of_business_id,
       CASE WHEN r.per_car THEN r.value_cents * (c.cars - COALESCE(h.n, 0)) ELSE r.value_cents END,
       r.label
FROM customers_customer c
JOIN segmentation_runrule r ON r.run_id = %(run)s
LEFT JOIN held h ON h.customer_id = c.id AND h.line_of_business_id = r.line_of_business_id
LEFT JOIN household_held hh
    ON r.household_scope AND hh.household_id = c.household_id AND hh.line_of_business_id = r.line_of_business_id
WHERE c.id BETWEEN %(lo)s AND %(hi)s
  AND {rule_matches_sql("c")}
  AND (CASE WHEN r.per_car THEN c.cars - COALESCE(h.n, 0) > 0 ELSE h.n IS NULL END)
  AND (NOT r.household_scope OR c.household_id IS NULL OR (
        hh.household_id IS NULL
    AND NOT EXISTS (SELECT 1 FROM customers_customer m
                    WHERE m.household_id = c.household_id AND m.id < c.id
                      AND {rule_matches_sql("m")} {FENCE})))
"""

THIRD_PARTY_SQL = f"""
INSERT INTO seg_tmp_component (customer_id, kind, source_id, line_of_business_id, value_cents, label)
SELECT t.customer_id, 'third_party', t.id, t.line_of_business_id, {cents_sql("t.expected_commission")},
       l.short_name || CASE WHEN t.insurer_name <> '' THEN ' · ' || t.insurer_name ELSE '' END
FROM segmentation_thirdpartycontract t
JOIN customers_lineofbusiness l ON l.id = t.line_of_business_id
WHERE t.customer_id BETWEEN %(lo)s AND %(hi)s
"""

ADJUSTMENTS_SQL = f"""
INSERT INTO seg_tmp_component (customer_id, kind, source_id, line_of_business_id, value_cents, label)
SELECT a.customer_id, 'adjustment', a.id, NULL, {cents_sql("a.amount")}, a.reason
FROM segmentation_potentialadjustment a
WHERE a.customer_id BETWEEN %(lo)s AND %(hi)s AND a.valid_from <= %(as_of)s AND a.expires_on >= %(as_of)s
"""

COMPONENTS_DELETE_SQL = f"""
DELETE FROM segmentation_potentialcomponent
WHERE customer_id BETWEEN %(lo)s AND %(hi)s
  AND NOT EXISTS (
    SELECT 1 FROM seg_tmp_component t
    WHERE t.customer_id = segmentation_potentialcomponent.customer_id
      AND t.kind = segmentation_potentialcomponent.kind
      AND t.source_id = segmentation_potentialcomponent.source_id
      AND t.value_cents = {cents_sql("segmentation_potentialcomponent.value")}
      AND t.label = segmentation_potentialcomponent.label
      AND COALESCE(t.line_of_business_id, 0) = COALESCE(segmentation_potentialcomponent.line_of_business_id, 0))
"""

# Rows left after the delete are unchanged: only new rows are inserted (an anti-join within the
# chunk's customer range, so a stale estimate cannot turn it into a scan of every component; on
# a next night nearly every row exists and nothing is written). The unique index stays the guard.
COMPONENTS_INSERT_SQL = """
INSERT INTO segmentation_potentialcomponent (customer_id, kind, source_id, line_of_business_id, value, label)
SELECT t.customer_id, t.kind, t.source_id, t.line_of_business_id, t.value_cents / 100.0, t.label
FROM seg_tmp_component t
WHERE NOT EXISTS (
    SELECT 1 FROM segmentation_potentialcomponent p
    WHERE p.customer_id BETWEEN %(lo)s AND %(hi)s
      AND p.customer_id = t.customer_id AND p.kind = t.kind AND p.source_id = t.source_id)
ON CONFLICT (customer_id, kind, source_id) DO NOTHING
"""

_FIGURES_SELECT = f"""
SELECT {{run_value}}c.id AS customer_id,
       COALESCE(rv.revenue_cents, 0) AS revenue_cents,
       COALESCE(pt.cents, 0) AS potential_cents,
       bg.line_of_business_id AS biggest_gap_id,
       c.status <> '{FORMER}' AS classified
FROM customers_customer c
LEFT JOIN segmentation_runrevenue rv ON rv.run_id = %(run)s AND rv.customer_id = c.id
    AND rv.customer_id BETWEEN %(lo)s AND %(hi)s
LEFT JOIN (
    SELECT customer_id, SUM(value_cents) AS cents FROM seg_tmp_component GROUP BY customer_id
) pt ON pt.customer_id = c.id
LEFT JOIN (
    SELECT g.customer_id, g.line_of_business_id, ROW_NUMBER() OVER (
        PARTITION BY g.customer_id ORDER BY g.value_cents DESC, g.line_of_business_id) AS rn
    FROM seg_tmp_component g WHERE g.kind = 'gap'
) bg ON bg.customer_id = c.id AND bg.rn = 1
WHERE c.id BETWEEN %(lo)s AND %(hi)s
"""

# Revenue of every customer, once per run: one pass over the ledger (hash join and aggregate).
REVENUE_SQL = f"""
INSERT INTO segmentation_runrevenue (run_id, customer_id, revenue_cents)
SELECT %(run)s, k.customer_id, {cents_sql("SUM(b.amount)")}
FROM customers_contract k
JOIN customers_commissionbooking b ON b.contract_id = k.id
WHERE b.booked_on > %(window_start)s AND b.booked_on <= %(as_of)s
GROUP BY k.customer_id
"""

FIGURES_RUN_SQL = (
    "INSERT INTO segmentation_runfigure "
    "(run_id, customer_id, revenue_cents, potential_cents, biggest_gap_id, classified)"
    + _FIGURES_SELECT.replace("{run_value}", "%(run)s, ")
)


def prior_class_sql() -> str:
    """The class a customer stands in before this run, for hysteresis: the computed class kept
    on an open override, else the stored class."""
    return "(CASE WHEN o.id IS NOT NULL THEN o.computed_class ELSE c.segment END)"


def high_sql(value: str, prefix: str, high_classes: tuple[str, str]) -> str:
    """SQL condition: ``value`` (cents) is high, with hysteresis around the run's bands.
    Params ``{prefix}_base``, ``{prefix}_stay``, ``{prefix}_enter`` are whole cents."""
    prior = prior_class_sql()
    h1, h2 = high_classes
    return (
        f"({value} > 0 AND {value} >= CASE {prior} WHEN '' THEN %({prefix}_base)s "
        f"WHEN '{h1}' THEN %({prefix}_stay)s WHEN '{h2}' THEN %({prefix}_stay)s "
        f"ELSE %({prefix}_enter)s END)"
    )


def computed_class_sql(revenue: str, potential: str) -> str:
    rev_high = high_sql(revenue, "rev", ("A", "B"))
    pot_high = high_sql(potential, "pot", ("A", "O"))
    return f"""(CASE WHEN c.status = '{FORMER}' THEN ''
        WHEN {rev_high} THEN (CASE WHEN {pot_high} THEN 'A' ELSE 'B' END)
        ELSE (CASE WHEN {pot_high} THEN 'O' ELSE 'C' END) END)"""


def override_state_sql() -> str:
    return f"""(CASE WHEN o.id IS NULL THEN {NO_OVERRIDE}
        WHEN o.starts_on <= %(as_of)s AND o.expires_on >= %(as_of)s THEN {OVERRIDE_ACTIVE}
        WHEN o.expires_on < %(as_of)s THEN {OVERRIDE_EXPIRED}
        ELSE {OVERRIDE_FUTURE} END)"""


def _classify_sql(figures: str, where: str, revenue: str, potential: str, gap: str) -> str:
    """Classes of the chunk's customers into ``seg_tmp_class``, with a flag for the customers
    whose stored figures or class change (only those are written). ``figures`` joins the
    customers ``c`` with the source of the figures; ``revenue``, ``potential`` (cents) and
    ``gap`` are its expressions."""
    return f"""
INSERT INTO seg_tmp_class (customer_id, revenue_cents, potential_cents, biggest_gap_id, old_segment,
                           computed, effective, override_id, override_state, changed)
SELECT e.customer_id, e.revenue_cents, e.potential_cents, e.biggest_gap_id, e.segment, e.computed,
       e.effective, e.override_id, e.override_state,
       CASE WHEN e.segment <> e.effective OR e.old_revenue <> e.revenue_cents
                 OR e.old_potential <> e.potential_cents
                 OR COALESCE(e.old_gap, 0) <> COALESCE(e.biggest_gap_id, 0) OR e.unclassified = 1
            THEN 1 ELSE 0 END
FROM (
    SELECT s.*,
           CASE WHEN s.is_former = 1 THEN '' WHEN s.override_state = {OVERRIDE_ACTIVE} THEN s.override_segment
                ELSE s.computed END AS effective
    FROM (
        SELECT c.id AS customer_id, {revenue} AS revenue_cents, {potential} AS potential_cents,
               {gap} AS biggest_gap_id, c.segment,
               CASE WHEN c.status = '{FORMER}' THEN 1 ELSE 0 END AS is_former,
               {cents_sql("c.revenue")} AS old_revenue, {cents_sql("c.potential")} AS old_potential,
               c.biggest_gap_id AS old_gap, CASE WHEN c.classified_at IS NULL THEN 1 ELSE 0 END AS unclassified,
               o.id AS override_id, o.segment AS override_segment,
               {override_state_sql()} AS override_state,
               {computed_class_sql(revenue, potential)} AS computed
        FROM {figures}
        LEFT JOIN segmentation_classoverride o ON o.customer_id = c.id AND o.ended_on IS NULL
        WHERE c.id BETWEEN %(lo)s AND %(hi)s {where}
    ) s
) e
"""


# One pass: the figures feed the classification directly (no staging of the figures), in one
# pass over the chunk's customers.
CLASSIFY_DIRECT_SQL = _classify_sql(
    """customers_customer c
        LEFT JOIN segmentation_runrevenue rv ON rv.run_id = %(run)s AND rv.customer_id = c.id
            AND rv.customer_id BETWEEN %(lo)s AND %(hi)s
        LEFT JOIN (
            SELECT customer_id, SUM(value_cents) AS cents FROM seg_tmp_component GROUP BY customer_id
        ) pt ON pt.customer_id = c.id
        LEFT JOIN (
            SELECT g.customer_id, g.line_of_business_id, ROW_NUMBER() OVER (
                PARTITION BY g.customer_id ORDER BY g.value_cents DESC, g.line_of_business_id) AS rn
            FROM seg_tmp_component g WHERE g.kind = 'gap'
        ) bg ON bg.customer_id = c.id AND bg.rn = 1""",
    "",
    "COALESCE(rv.revenue_cents, 0)",
    "COALESCE(pt.cents, 0)",
    "bg.line_of_business_id",
)
CLASSIFY_FROM_RUN_SQL = _classify_sql(
    "segmentation_runfigure f JOIN customers_customer c ON c.id = f.customer_id",
    "AND f.run_id = %(run)s AND f.customer_id BETWEEN %(lo)s AND %(hi)s",
    "f.revenue_cents",
    "f.potential_cents",
    "f.biggest_gap_id",
)

CUSTOMERS_UPDATE_SQL = """
UPDATE customers_customer SET
    revenue = t.revenue_cents / 100.0,
    potential = t.potential_cents / 100.0,
    biggest_gap_id = t.biggest_gap_id,
    segment = t.effective,
    segment_since = CASE WHEN t.effective = '' THEN NULL
                         WHEN t.effective <> t.old_segment THEN %(as_of)s
                         ELSE segment_since END,
    classified_at = %(as_of)s
FROM seg_tmp_class t
WHERE t.changed = 1 AND customers_customer.id = t.customer_id
  AND customers_customer.id BETWEEN %(lo)s AND %(hi)s
"""

HISTORY_UPSERT_SQL = f"""
INSERT INTO segmentation_classchange (customer_id, date, old_class, new_class, computed_class, revenue,
                                      potential, policy_id, source, reason, run_id, created_at)
SELECT t.customer_id, %(as_of)s, t.old_segment, t.effective, t.computed, t.revenue_cents / 100.0,
       t.potential_cents / 100.0, %(policy)s,
       CASE t.override_state WHEN {OVERRIDE_ACTIVE} THEN 'override'
                             WHEN {OVERRIDE_EXPIRED} THEN 'override_ended' ELSE 'computed' END,
       CASE WHEN t.override_state = {OVERRIDE_ACTIVE} THEN o.reason ELSE '' END,
       %(run)s, %(now)s
FROM seg_tmp_class t
LEFT JOIN segmentation_classoverride o ON o.id = t.override_id
WHERE t.old_segment <> t.effective
ON CONFLICT (customer_id, date) DO UPDATE SET
    new_class = excluded.new_class, computed_class = excluded.computed_class,
    revenue = excluded.revenue, potential = excluded.potential, policy_id = excluded.policy_id,
    source = excluded.source, reason = excluded.reason, run_id = excluded.run_id,
    created_at = excluded.created_at
RETURNING customer_id, CASE WHEN old_class = new_class THEN 1 ELSE 0 END
"""

# A run and a manual change on the same day merge into one row; if the day nets to no change,
# the row goes. Only rows the upsert reported as no-ops are looked up (by the unique index), so
# a chunk never scans the day's history written by the chunks before it.
HISTORY_DROP_NOOPS_SQL = """
DELETE FROM segmentation_classchange
WHERE date = %(as_of)s AND old_class = new_class AND customer_id IN ({ids})
"""

OVERRIDES_UPDATE_SQL = f"""
UPDATE segmentation_classoverride SET
    computed_class = t.computed,
    ended_on = CASE WHEN t.override_state = {OVERRIDE_EXPIRED} THEN %(as_of)s ELSE ended_on END
FROM seg_tmp_class t
WHERE segmentation_classoverride.id = t.override_id
  AND (segmentation_classoverride.computed_class <> t.computed OR t.override_state = {OVERRIDE_EXPIRED})
"""

TRANSITIONS_SQL = """
SELECT t.old_segment, t.effective, COUNT(*) FROM seg_tmp_class t
WHERE t.old_segment <> t.effective GROUP BY t.old_segment, t.effective
"""

CHUNK_COUNTS_SQL = f"""
SELECT COUNT(*),
       COALESCE(SUM(CASE WHEN override_state = {OVERRIDE_ACTIVE} THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN override_state = {OVERRIDE_EXPIRED} THEN 1 ELSE 0 END), 0)
FROM seg_tmp_class
"""


@dataclass
class ChunkStats:
    customers: int = 0
    changed: int = 0
    figures_changed: int = 0
    overrides_active: int = 0
    overrides_ended: int = 0
    transitions: dict[str, int] = field(default_factory=dict)


def transition_key(old: str, new: str) -> str:
    """ "O->A"; an unclassified side is empty: "->A"."""
    return f"{old}->{new}"


class ChunkJob:
    """The SQL steps for one chunk. Call inside a transaction."""

    def __init__(
        self,
        cursor,
        *,
        run_id: int,
        policy_id: int,
        as_of: dt.date,
        window_start: dt.date,
        lo: int,
        hi: int,
        bands: dict[str, int] | None = None,
    ):
        self.cursor = cursor
        ops = connection.ops
        self.params = {
            "run": run_id,
            "policy": policy_id,
            "as_of": ops.adapt_datefield_value(as_of),
            "window_start": ops.adapt_datefield_value(window_start),
            "lo": lo,
            "hi": hi,
            **(bands or {}),
        }

    def _exec(self, sql: str, extra: dict | None = None) -> int:
        self.cursor.execute(sql, {**self.params, **(extra or {})} if extra else self.params)
        return self.cursor.rowcount

    def prepare(self) -> None:
        if connection.vendor == "postgresql":
            # The statements are cheap per row but look expensive to the planner; compiling them
            # with JIT costs seconds per chunk and saves nothing.
            self.cursor.execute("SET LOCAL jit = off")
            # A chunk's hash joins (rules x customers, the diff of its components) fit in memory.
            self.cursor.execute("SET LOCAL work_mem = '64MB'")
        ensure_temp_tables(self.cursor)
        for table in _TEMP_TABLES:
            self.cursor.execute(f"DELETE FROM {table}")

    def components(self) -> None:
        self._exec(GAPS_SQL)
        self._exec(THIRD_PARTY_SQL)
        self._exec(ADJUSTMENTS_SQL)
        postgresql = connection.vendor == "postgresql"
        if postgresql:
            # The diff is two hash anti-joins between the temp table and the chunk's range of
            # the unique index. Statistics of the components table are stale while a first
            # classification fills it (it looks empty): without these settings the planner may
            # pick a nested loop over a sequential scan of it, per component.
            self.cursor.execute("SET LOCAL enable_nestloop = off")
            self.cursor.execute("SET LOCAL enable_seqscan = off")
        self._exec(COMPONENTS_DELETE_SQL)
        self._exec(COMPONENTS_INSERT_SQL)
        if postgresql:
            self.cursor.execute("SET LOCAL enable_nestloop = on")
            self.cursor.execute("SET LOCAL enable_seqscan = on")

    def figures(self) -> None:
        """Phase 1 of a two-pass run: stage the figures for the thresholds and phase 2."""
        self._exec(FIGURES_RUN_SQL)

    def classify(self, *, from_run: bool) -> None:
        self._exec(CLASSIFY_FROM_RUN_SQL if from_run else CLASSIFY_DIRECT_SQL)

    def apply(self, *, now: dt.datetime) -> ChunkStats:
        stats = ChunkStats()
        stats.figures_changed = self._exec(CUSTOMERS_UPDATE_SQL)
        self._exec(HISTORY_UPSERT_SQL, {"now": connection.ops.adapt_datetimefield_value(now)})
        noops = [int(customer_id) for customer_id, noop in self.cursor.fetchall() if noop]
        for start in range(0, len(noops), 1000):
            ids = {f"id{i}": customer_id for i, customer_id in enumerate(noops[start : start + 1000])}
            self._exec(HISTORY_DROP_NOOPS_SQL.format(ids=", ".join(f"%({key})s" for key in ids)), ids)
        self._exec(OVERRIDES_UPDATE_SQL)
        self.cursor.execute(TRANSITIONS_SQL)
        for old, new, count in self.cursor.fetchall():
            stats.transitions[transition_key(old, new)] = int(count)
            stats.changed += int(count)
        self.cursor.execute(CHUNK_COUNTS_SQL)
        customers, active, ended = self.cursor.fetchone()
        stats.customers, stats.overrides_active, stats.overrides_ended = (
            int(customers),
            int(active),
            int(ended),
        )
        return stats

    def drop_run_figures(self) -> None:
        self._exec(
            "DELETE FROM segmentation_runfigure WHERE run_id = %(run)s AND customer_id BETWEEN %(lo)s AND %(hi)s"
        )


def ensure_temp_tables(cursor) -> None:
    on_commit = " ON COMMIT DELETE ROWS" if connection.vendor == "postgresql" else ""
    for table, columns in _TEMP_TABLES.items():
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({columns}){on_commit}")
    for name, target in _TEMP_INDEXES.items():
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def chunk_bounds(cursor, size: int) -> list[tuple[int, int]]:
    """Customer-id ranges of ``size`` customers each (the last may be smaller)."""
    cursor.execute(
        "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn FROM customers_customer) s "
        "WHERE (rn - 1) %% %s = 0 ORDER BY id",
        [size],
    )
    starts = [row[0] for row in cursor.fetchall()]
    if not starts:
        return []
    cursor.execute("SELECT MAX(id) FROM customers_customer")
    last = cursor.fetchone()[0]
    ends = [s - 1 for s in starts[1:]] + [last]
    return list(zip(starts, ends, strict=True))


# Threshold resolution (quantile / Pareto) over a source of figures: a derived table with the
# columns customer_id, revenue_cents, potential_cents, classified.


def quantile_cents(cursor, source: str, params: dict, column: str, top_percent: Decimal) -> int:
    """The value at rank ceil(N · x / 100), descending, among classified customers."""
    cursor.execute(f"SELECT COUNT(*) FROM ({source}) src WHERE src.classified", params)
    n = int(cursor.fetchone()[0])
    if n == 0:
        return 0
    rank = max(1, -(-int(n * Decimal(top_percent) * 100) // 10000))  # ceil(n * x / 100), exact
    cursor.execute(
        f"SELECT v FROM (SELECT src.{column} AS v, ROW_NUMBER() OVER (ORDER BY src.{column} DESC) AS rn "
        f"FROM ({source}) src WHERE src.classified) ranked WHERE rn = %(rank)s",
        {**params, "rank": rank},
    )
    row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0


def pareto_cents(cursor, source: str, params: dict, column: str, share_percent: Decimal) -> int:
    """The smallest value among the top customers who together make ``share_percent`` % of the
    positive total (the customer who crosses the share is included)."""
    cursor.execute(
        f"SELECT COALESCE(SUM(src.{column}), 0) FROM ({source}) src WHERE src.classified AND src.{column} > 0",
        params,
    )
    total = int(cursor.fetchone()[0])
    if total <= 0:
        return 0
    share_bp = int(Decimal(share_percent) * 100)  # basis points: 80 % -> 8000
    cursor.execute(
        f"""SELECT MIN(v) FROM (
                SELECT p.v AS v, COALESCE(SUM(p.v) OVER (
                    ORDER BY p.v DESC, p.customer_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
                FROM (SELECT src.customer_id AS customer_id, src.{column} AS v FROM ({source}) src
                      WHERE src.classified AND src.{column} > 0) p
            ) s WHERE s.before * 10000 < CAST(%(total)s AS BIGINT) * %(share_bp)s""",
        {**params, "total": total, "share_bp": share_bp},
    )
    row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def threshold_cents(cursor, source: str, params: dict, column: str, method: str, value: Decimal) -> int:
    from .models import ThresholdMethod, _ceil_cents

    if method == ThresholdMethod.QUANTILE:
        return quantile_cents(cursor, source, params, column, value)
    if method == ThresholdMethod.PARETO:
        return pareto_cents(cursor, source, params, column, value)
    return _ceil_cents(Decimal(value))


RUN_FIGURES_SOURCE = (
    "SELECT customer_id, revenue_cents, potential_cents, classified FROM segmentation_runfigure "
    "WHERE run_id = %(run)s"
)
