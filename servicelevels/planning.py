"""Set-based planning of care tasks: one INSERT ... SELECT per recurrence kind and chunk.

Each statement plans, for a chunk of customers, the next occurrence of every active activity of
the customer's class — unless that series (customer, activity, scope_key) already has an open
task (those are skipped early, through a temporary table of the chunk's open tasks). Two partial
unique keys of `CareTask` guarantee it, so a repeated run is a no-op (ON CONFLICT DO NOTHING /
INSERT OR IGNORE): one task per (series, occurrence), cancelled tasks aside, and one open task per
series. Every joined table is restricted to the chunk's customers explicitly (PostgreSQL
does not carry a range condition across a join), so a chunk reads only its own rows and a run
scales linearly with the book. The SQL is written for
PostgreSQL (production) and SQLite (the embedded default); both dialects differ only in the date
helpers of `_Dialect`.

Due dates, per recurrence kind (`as_of` = the run date):

- on entering the class: the class entry date (`Customer.segment_since`) + `days_after`; planned
  only for customers that entered within ENTRY_WINDOW_DAYS before the run, so a first run over an
  old book does not flood the worklists with welcome work for long-standing customers.
- every N months: steps of N months from the class entry date (the run date when unknown), on the
  entry's day of month (days 29–31 run on the 28th, which every month has); the task is the first
  step after the entry that falls on or after the run date.
- yearly on the birthday: the next birthday on or after the run date (29.02. → 28.02. in common
  years, as `Contract.next_main_due` does).
- N weeks before each Hauptfälligkeit: for every active contract (not ended), the next
  Hauptfälligkeit at least N weeks after the run date; due N weeks before it.
- once per coverage gap: each Sparte with a `segmentation.PotentialComponent` of kind "gap"
  (summed per Sparte, at least `min_gap_value`, the biggest gap only if so set), once per stint in
  the class; due `days_after` after the run that first sees it.

Open tasks are cancelled ("cancelled by reclassification") when the customer's class no longer
has the activity (class change, customer no longer active or under an Art. 18 restriction,
activity deactivated), when the contract of a Hauptfälligkeit task is no longer active, or when
the gap of a gap task no longer qualifies. Restricted customers (`Customer.objects.usable()`)
get no new tasks. Consent is applied when planning and re-checked for open tasks on every run.

Incremental runs: after a customer is planned, every series of it has an open task, or its next
occurrence is already done or skipped, or it has none — so a full pass changes nothing for it
until a row planning reads changes or time moves an occurrence. Each chunk records, per
customer, the customer columns it read and the first day time alone matters (`PlanningState`,
`Planner.state_statement`); the nightly run plans only the customers `dirty_customers_sql`
finds (changed columns, that day reached, contracts/consents/gap rows/tasks written since the
last run started) and leaves exactly what a full pass would (tests/servicelevels/
test_incremental.py compares both on random books).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Max

from customers import gdv
from customers.models import Contract, Customer, MarketingConsent

from .models import CareActivity, CareTask, PlanningState, Recurrence, ServiceLevel

ENTRY_WINDOW_DAYS = 90
WORK_MEM = "64MB"
# Temporary tables of one chunk.
CUSTOMERS = "care_plan_customers"
CONSENTS = "care_plan_consents"
CONTRACTS = "care_plan_contracts"
GAP_SUMS = "care_plan_gap_sums"
GAPS = "care_plan_gaps"
OPEN_TASKS = "care_plan_open_tasks"
CHUNK_TABLES = (CUSTOMERS, CONSENTS, CONTRACTS, GAP_SUMS, GAPS, OPEN_TASKS)
# Occurrence of gap work for customers without a known class entry date: once, ever.
GAP_EPOCH = dt.date(2000, 1, 1)


class _Dialect:
    vendor = "postgresql"
    insert = "INSERT INTO"
    on_conflict = "ON CONFLICT DO NOTHING"

    def year(self, d: str) -> str:
        return f"CAST(EXTRACT(YEAR FROM {d}) AS integer)"

    def month(self, d: str) -> str:
        return f"CAST(EXTRACT(MONTH FROM {d}) AS integer)"

    def day(self, d: str) -> str:
        return f"CAST(EXTRACT(DAY FROM {d}) AS integer)"

    def make_date(self, y: str, m: str, d: str) -> str:
        return f"make_date({y}, {m}, {d})"

    def add_days(self, d: str, n: str) -> str:
        return f"({d} + CAST({n} AS integer))"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})"

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}"


class _SQLiteDialect(_Dialect):
    vendor = "sqlite"
    insert = "INSERT OR IGNORE INTO"
    on_conflict = ""

    def year(self, d: str) -> str:
        return f"CAST(strftime('%%Y', {d}) AS integer)"

    def month(self, d: str) -> str:
        return f"CAST(strftime('%%m', {d}) AS integer)"

    def day(self, d: str) -> str:
        return f"CAST(strftime('%%d', {d}) AS integer)"

    def make_date(self, y: str, m: str, d: str) -> str:
        return f"printf('%%04d-%%02d-%%02d', {y}, {m}, {d})"

    def add_days(self, d: str, n: str) -> str:
        return f"date({d}, printf('%%+d days', {n}))"

    def greatest(self, a: str, b: str) -> str:
        return f"max({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"min({a}, {b})"

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS NOT {b}"


def dialect() -> _Dialect:
    if connection.vendor == "postgresql":
        return _Dialect()
    if connection.vendor == "sqlite":
        return _SQLiteDialect()
    raise NotImplementedError(f"care task planning supports PostgreSQL and SQLite, not {connection.vendor}")


@dataclass(frozen=True)
class Chunk:
    """Customers of one step: an id range [lo, hi) or an explicit list of ids."""

    lo: int = 0
    hi: int = 0
    ids: Sequence[int] | None = None

    def sql(self, column: str) -> str:
        if self.ids is not None:
            # Integers only (validated by int()), so the literal list is safe.
            return f"{column} IN ({', '.join(str(int(i)) for i in self.ids) or 'NULL'})"
        return f"{column} >= {int(self.lo)} AND {column} < {int(self.hi)}"


def _tables() -> dict[str, str]:
    names = {
        "customer": Customer._meta.db_table,
        "contract": Contract._meta.db_table,
        "consent": MarketingConsent._meta.db_table,
        "level": ServiceLevel._meta.db_table,
        "activity": CareActivity._meta.db_table,
        "task": CareTask._meta.db_table,
        "user": CareTask._meta.get_field("assignee").related_model._meta.db_table,
        "state": PlanningState._meta.db_table,
        "contract_history": Contract.history.model._meta.db_table,
        "consent_history": MarketingConsent.history.model._meta.db_table,
        "potential": "",
    }
    component = gap_model()
    if component is not None:
        names["potential"] = component._meta.db_table
    return names


def gap_model():
    """segmentation.PotentialComponent, or None while that app does not provide it."""
    try:
        return apps.get_model("segmentation", "PotentialComponent")
    except LookupError:
        return None


_ACTIVE_CONTRACT = "(" + ", ".join(f"'{s}'" for s in gdv.ACTIVE_CONTRACT_STATUSES) + ")"


class Planner:
    """Builds and runs the statements of one planning run for one chunk at a time."""

    def __init__(self, *, as_of: dt.date, owner_id: int | None, now: dt.datetime):
        self.d = dialect()
        self.t = _tables()
        self.params = {
            "as_of": as_of,
            "owner_id": owner_id,
            # As the ORM stores it (SQLite compares the text: `PlanningRun.started_at` = now).
            "now": connection.ops.adapt_datetimefield_value(now),
            "bi": as_of.year * 12 + as_of.month - 1,
            "as_day": as_of.day,
            "as_year": as_of.year,
            "as_md": as_of.month * 100 + as_of.day,
            "epoch": GAP_EPOCH,
            "entry_from": as_of - dt.timedelta(days=ENTRY_WINDOW_DAYS),
        }

    # -- running --------------------------------------------------------------------------

    def _execute(self, sql: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, self.params)
            return max(cursor.rowcount, 0)

    def run_chunk(self, chunk: Chunk) -> tuple[int, int, int]:
        """Cancel, re-check consent and plan one chunk: (cancelled, created, channel changes).

        Small temporary tables with fresh statistics carry the chunk's customers, their
        consents and contracts in force, the qualifying gap work and a snapshot of the open
        tasks with what must happen to each, so each is read once and no plan depends on the statistics of the big tables that the
        reclassification or this run itself just rewrote. (With stale statistics, e.g. an
        "empty" component or task table, PostgreSQL chose nested loops over unindexed inner
        sides that took minutes.) A temporary table rolls back with its chunk's transaction."""
        if self.d.vendor == "postgresql":
            # Hash joins and aggregates of a 20,000-customer chunk stay in memory (this transaction only).
            self._execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            # A chunk's statements read a few thousand customers' rows through indexes; parallel
            # plans of them (chosen for the id lists of an incremental run) took minutes instead
            # of a fraction of a second (measured: the planning-state upsert, 5,000 ids, 128 s
            # with two workers, 0.4 s without).
            self._execute("SET LOCAL max_parallel_workers_per_gather = 0")
        self._temporary(self.chunk_row_statements(chunk))
        self._temporary(self.gap_statements(chunk))
        self._temporary(self.open_task_statements(chunk))
        cancelled = sum(self._execute(sql) for sql in self.cancel_statements(chunk))
        changed = sum(self._execute(sql) for sql in self.consent_statements(chunk))
        created = sum(self._execute(sql) for sql in self.insert_statements(chunk))
        self._execute(self.state_statement(chunk))
        for table in CHUNK_TABLES:
            self._execute(f"DROP TABLE IF EXISTS {table}")
        return cancelled, created, changed

    def _temporary(self, statements: list[str]) -> None:
        for sql in statements:
            self._execute(sql)

    def _create_temporary(self, name: str, select: str, key: str) -> list[str]:
        statements = [
            f"DROP TABLE IF EXISTS {name}",
            f"CREATE TEMPORARY TABLE {name} AS {select}",
            # SQLite joins by nested loops; PostgreSQL hashes the table when it knows its size,
            # but may still probe it row by row when it misjudges the other side (an id list
            # of an incremental run: 64 million rows compared for one chunk's gap work).
            f"CREATE INDEX {name}_key ON {name} ({key})",
        ]
        if self.d.vendor == "postgresql":
            statements.append(f"ANALYZE {name}")  # fresh statistics
        return statements

    def chunk_row_statements(self, chunk: Chunk) -> list[str]:
        """The chunk's customers with the columns planning reads, and their consents and
        contracts in force; every later statement joins these tables instead of the big ones. Joined to the catalogue by class, the customer
        table was read through its class index with the chunk's id list as a filter: for the
        scattered ids of an incremental run that read every customer of the class, per chunk
        and statement (measured at 1,000,000 customers: 1.3 million rows for 6,700, 2.5 s a
        statement), so a night's run grew with the square of the book."""
        return (
            self._create_temporary(
                CUSTOMERS,
                f"""SELECT c.id AS id, c.segment AS segment, c.status AS status, c.segment_since AS segment_since,
                c.birth_date AS birth_date, c.biggest_gap_id AS biggest_gap_id,
                c.restricted_at AS restricted_at, c.advisor_id AS advisor_id
            FROM {self.t["customer"]} c WHERE {chunk.sql("c.id")}""",
                "id",
            )
            + self._create_temporary(
                # The consents in force on the run date (one per customer and channel). Probed per
                # task row; probing the consent table itself with the chunk's id list as an index
                # condition re-read the list on every probe (0.1 ms a row, most of an insert).
                CONSENTS,
                f"""SELECT mc.customer_id AS customer_id, mc.channel AS channel FROM {self.t["consent"]} mc
            WHERE {chunk.sql("mc.customer_id")} AND mc.withdrawn_on IS NULL AND mc.granted_on <= %(as_of)s""",
                "customer_id, channel",
            )
            + self._create_temporary(
                # The contracts in force on the run date, for the same reason (and read once).
                CONTRACTS,
                f"""SELECT k.id AS id, k.customer_id AS customer_id, k.main_due_date AS main_due_date,
                k.end_date AS end_date
            FROM {self.t["contract"]} k
            WHERE {chunk.sql("k.customer_id")} AND k.status IN {_ACTIVE_CONTRACT}
              AND (k.end_date IS NULL OR k.end_date > %(as_of)s)""",
                "customer_id",
            )
        )

    def gap_statements(self, chunk: Chunk) -> list[str]:
        """The chunk's gap work: per gap activity of the customer's class, the gaps (summed per
        customer and Sparte: two cars, one Kfz gap) that qualify for it."""
        t = self.t
        if t["potential"]:
            sums = f"""SELECT pc.customer_id AS customer_id, pc.line_of_business_id AS lob_id, SUM(pc.value) AS value
            FROM {t["potential"]} pc
            WHERE pc.kind = 'gap' AND pc.line_of_business_id IS NOT NULL AND {chunk.sql("pc.customer_id")}
            GROUP BY pc.customer_id, pc.line_of_business_id"""
        else:
            sums = (
                "SELECT CAST(NULL AS bigint) AS customer_id, CAST(NULL AS bigint) AS lob_id, "
                "CAST(NULL AS numeric) AS value WHERE 1 = 0"
            )
        work = f"""SELECT c.id AS customer_id, a.id AS activity_id, g.lob_id AS lob_id
            FROM {GAP_SUMS} g
            JOIN {CUSTOMERS} c ON c.id = g.customer_id
            JOIN {t["level"]} sl ON sl.segment = c.segment
            JOIN {t["activity"]} a ON a.service_level_id = sl.id
            WHERE c.status = 'active' AND c.restricted_at IS NULL AND a.active
              AND a.recurrence = '{Recurrence.PER_GAP}'
              AND g.value >= a.min_gap_value AND (NOT a.biggest_gap_only OR g.lob_id = c.biggest_gap_id)"""
        return [
            *self._create_temporary(GAP_SUMS, sums, "customer_id"),
            *self._create_temporary(GAPS, work, "customer_id, activity_id, lob_id"),
        ]

    def open_task_statements(self, chunk: Chunk) -> list[str]:
        """The chunk's open tasks, each with its verdict:

        - cancel: the customer's class no longer has the activity (class change, customer no
          longer active, activity switched off), the contract of a Hauptfälligkeit task is no
          longer active, or the gap of a gap task no longer qualifies;
        - to_letter: a marketing call or e-mail whose consent is gone;
        - back: a letter that replaced a call or e-mail whose consent is there again."""
        t = self.t
        return self._create_temporary(
            OPEN_TASKS,
            f"""SELECT o.id AS id, o.customer_id AS customer_id, o.activity_id AS activity_id,
                o.scope_key AS scope_key,
                CASE WHEN c.status <> 'active' OR c.restricted_at IS NOT NULL OR c.segment <> sl.segment
                          OR NOT a.active
                          OR (o.contract_id IS NOT NULL AND k.id IS NULL)
                          OR (o.line_of_business_id IS NOT NULL AND g.customer_id IS NULL)
                     THEN 1 ELSE 0 END AS cancel,
                CASE WHEN o.channel IN ('phone', 'email') AND a.marketing AND mc.customer_id IS NULL
                     THEN 1 ELSE 0 END AS to_letter,
                CASE WHEN o.fallback_from <> '' AND mf.customer_id IS NOT NULL THEN 1 ELSE 0 END AS back
            FROM {t["task"]} o
            JOIN {CUSTOMERS} c ON c.id = o.customer_id
            JOIN {t["activity"]} a ON a.id = o.activity_id
            JOIN {t["level"]} sl ON sl.id = a.service_level_id
            LEFT JOIN {CONTRACTS} k ON k.id = o.contract_id
            LEFT JOIN {GAPS} g ON g.customer_id = o.customer_id AND g.activity_id = o.activity_id
                AND g.lob_id = o.line_of_business_id
            LEFT JOIN {CONSENTS} mc ON mc.customer_id = o.customer_id AND mc.channel = o.channel
            LEFT JOIN {CONSENTS} mf ON mf.customer_id = o.customer_id AND mf.channel = o.fallback_from
            WHERE o.status = 'open' AND {chunk.sql("o.customer_id")}""",
            "customer_id, activity_id, scope_key",
        )

    # -- cancelling and consent -----------------------------------------------------------

    def cancel_statements(self, chunk: Chunk) -> list[str]:
        return [
            f"""UPDATE {self.t["task"]} SET status = 'cancelled', closed_at = %(now)s
            WHERE id IN (SELECT id FROM {OPEN_TASKS} WHERE cancel = 1)"""
        ]

    def consent_statements(self, chunk: Chunk) -> list[str]:
        """Open tasks follow the consent of today: withdrawn → letter; granted again → back."""
        task = self.t["task"]
        return [
            f"""UPDATE {task} SET fallback_from = channel, channel = 'letter'
            WHERE id IN (SELECT id FROM {OPEN_TASKS} WHERE to_letter = 1 AND cancel = 0)""",
            f"""UPDATE {task} SET channel = fallback_from, fallback_from = ''
            WHERE id IN (SELECT id FROM {OPEN_TASKS} WHERE back = 1 AND cancel = 0)""",
        ]

    # -- planning -------------------------------------------------------------------------

    def insert_statements(self, chunk: Chunk) -> list[str]:
        cores = [
            self._on_entry(),
            self._every_n_months(),
            self._birthday(),
            self._before_main_due(),
            self._per_gap(),
        ]
        return [self._insert(core) for core in cores]

    def _insert(self, core: str) -> str:
        # A series that has an open task, and an occurrence already planned, are skipped by the
        # two partial unique keys (ON CONFLICT DO NOTHING), not by a NOT EXISTS: the executor
        # probes the unique indexes row by row, whereas an anti join would be planned from the
        # task table's statistics, which are stale while the run itself fills the table.
        t, d = self.t, self.d
        no_consent = "p.marketing AND p.channel IN ('phone', 'email') AND mc.customer_id IS NULL"
        return f"""{d.insert} {t["task"]} (
            customer_id, activity_id, contract_id, line_of_business_id, scope_key, occurrence,
            due_date, assignee_id, channel, fallback_from, status, outcome, planned_on, closed_at,
            closed_by_id, logged_activity_id, created_at)
        SELECT p.customer_id, p.activity_id, p.contract_id, p.lob_id, p.scope_key, p.occurrence,
            p.due_date,
            CASE WHEN p.performer = 'owner' THEN %(owner_id)s ELSE COALESCE(adv.id, %(owner_id)s) END,
            CASE WHEN {no_consent} THEN 'letter' ELSE p.channel END,
            CASE WHEN {no_consent} THEN p.channel ELSE '' END,
            'open', '', %(as_of)s, NULL, NULL, NULL, %(now)s
        FROM ({core}) p
        LEFT JOIN {t["user"]} adv ON adv.id = p.advisor_id AND adv.is_active
        LEFT JOIN {CONSENTS} mc ON mc.customer_id = p.customer_id AND mc.channel = p.channel
        {d.on_conflict}"""

    def _base(self, kind: str, joins: str = "", scope: str = "0") -> str:
        t = self.t
        return f"""FROM {CUSTOMERS} c
            JOIN {t["level"]} sl ON sl.segment = c.segment
            JOIN {t["activity"]} a ON a.service_level_id = sl.id
            {joins}
            WHERE c.status = 'active' AND c.restricted_at IS NULL AND a.active AND a.recurrence = '{kind}'
              AND NOT EXISTS (SELECT 1 FROM {OPEN_TASKS} os
                  WHERE os.customer_id = c.id AND os.activity_id = a.id AND os.scope_key = {scope}
                    AND os.cancel = 0)"""

    _CARRY = (
        "a.performer AS performer, a.channel AS channel, a.marketing AS marketing, c.advisor_id AS advisor_id"
    )
    _CARRIED = "s.performer, s.channel, s.marketing, s.advisor_id"

    def _leap(self, y: str) -> str:
        return f"(({y} %% 4 = 0 AND {y} %% 100 <> 0) OR {y} %% 400 = 0)"

    def _on_entry(self) -> str:
        d = self.d
        return f"""SELECT c.id AS customer_id, a.id AS activity_id, CAST(NULL AS bigint) AS contract_id,
            CAST(NULL AS bigint) AS lob_id, 0 AS scope_key, c.segment_since AS occurrence,
            {d.add_days("c.segment_since", "a.days_after")} AS due_date, {self._CARRY}
        {self._base(Recurrence.ON_ENTRY)}
          AND c.segment_since IS NOT NULL AND c.segment_since >= %(entry_from)s"""

    def _every_n_months(self) -> str:
        d = self.d
        anchor = "COALESCE(c.segment_since, %(as_of)s)"
        inner = f"""SELECT c.id AS customer_id, a.id AS activity_id, a.interval_months AS n,
            {d.year(anchor)} * 12 + {d.month(anchor)} - 1 AS ai,
            {d.least(d.day(anchor), "28")} AS dd, {self._CARRY}
        {self._base(Recurrence.EVERY_N_MONTHS)}"""
        # k0 = the first step whose month is not before the run's month; one more when that
        # step falls in the run's month but before the run's day; at least one step.
        k0 = f"(({d.greatest('%(bi)s - s.ai', '0')} + s.n - 1) / s.n)"
        k = f"({k0} + CASE WHEN s.ai + {k0} * s.n = %(bi)s AND s.dd < %(as_day)s THEN 1 ELSE 0 END)"
        steps = f"""SELECT s.customer_id, s.activity_id, s.dd,
            s.ai + s.n * {d.greatest("1", k)} AS mi, {self._CARRIED}
        FROM ({inner}) s"""
        due = d.make_date("m.mi / 12", "m.mi %% 12 + 1", "m.dd")
        return f"""SELECT m.customer_id, m.activity_id, CAST(NULL AS bigint) AS contract_id,
            CAST(NULL AS bigint) AS lob_id, 0 AS scope_key, {due} AS occurrence, {due} AS due_date,
            m.performer, m.channel, m.marketing, m.advisor_id
        FROM ({steps}) m"""

    def _anniversary(self, y: str, m: str, day: str) -> str:
        """The date (y, m, day) with 29.02. moved to 28.02. in common years."""
        clamped = f"CASE WHEN {m} = 2 AND {day} = 29 AND NOT {self._leap(y)} THEN 28 ELSE {day} END"
        return self.d.make_date(y, m, clamped)

    def _birthday(self) -> str:
        d = self.d
        inner = f"""SELECT c.id AS customer_id, a.id AS activity_id,
            {d.month("c.birth_date")} AS bm, {d.day("c.birth_date")} AS bd, {self._CARRY}
        {self._base(Recurrence.BIRTHDAY)} AND c.birth_date IS NOT NULL"""
        years = f"""SELECT s.*, %(as_year)s + CASE WHEN s.bm * 100 + s.bd >= %(as_md)s THEN 0 ELSE 1 END AS y
        FROM ({inner}) s"""
        due = self._anniversary("b.y", "b.bm", "b.bd")
        return f"""SELECT b.customer_id, b.activity_id, CAST(NULL AS bigint) AS contract_id,
            CAST(NULL AS bigint) AS lob_id, 0 AS scope_key, {due} AS occurrence, {due} AS due_date,
            b.performer, b.channel, b.marketing, b.advisor_id
        FROM ({years}) b"""

    def _before_main_due(self) -> str:
        d = self.d
        joins = f"JOIN {CONTRACTS} k ON k.customer_id = c.id"
        # The Hauptfälligkeit must lie on or after the threshold: the run date + N weeks.
        inner = f"""SELECT c.id AS customer_id, a.id AS activity_id, k.id AS contract_id,
            a.weeks_before * 7 AS wd, {d.month("k.main_due_date")} AS hm, {d.day("k.main_due_date")} AS hd,
            {d.add_days("%(as_of)s", "a.weeks_before * 7")} AS th, {self._CARRY}
        {self._base(Recurrence.BEFORE_MAIN_DUE, joins, scope="k.id")}"""
        years = f"""SELECT s.*, {d.year("s.th")} + CASE WHEN s.hm * 100 + s.hd
                >= {d.month("s.th")} * 100 + {d.day("s.th")} THEN 0 ELSE 1 END AS y
        FROM ({inner}) s"""
        dues = f"""SELECT h.*, {self._anniversary("h.y", "h.hm", "h.hd")} AS hf FROM ({years}) h"""
        return f"""SELECT f.customer_id, f.activity_id, f.contract_id, CAST(NULL AS bigint) AS lob_id,
            f.contract_id AS scope_key, f.hf AS occurrence, {d.add_days("f.hf", "-f.wd")} AS due_date,
            f.performer, f.channel, f.marketing, f.advisor_id
        FROM ({dues}) f"""

    def _per_gap(self) -> str:
        d = self.d
        joins = f"JOIN {GAPS} g ON g.customer_id = c.id AND g.activity_id = a.id"
        return f"""SELECT c.id AS customer_id, a.id AS activity_id, CAST(NULL AS bigint) AS contract_id,
            g.lob_id AS lob_id, g.lob_id AS scope_key, COALESCE(c.segment_since, %(epoch)s) AS occurrence,
            {d.add_days("%(as_of)s", "a.days_after")} AS due_date, {self._CARRY}
        {self._base(Recurrence.PER_GAP, joins, scope="g.lob_id")}"""

    # -- the planning state of the chunk's customers -----------------------------------------

    def _gap_counts(self, where: str) -> str:
        return _gap_counts(self.t, where)

    def state_statement(self, chunk: Chunk) -> str:
        """Remember, per customer of the chunk, the customer columns planning read and the first
        day on which time alone changes its plan (`PlanningState.wake_on`):

        - a done or skipped task of a recurring series whose date lies ahead: its occurrence
          blocks the series (the key) until the run date passes the task's due date, then the
          next occurrence is planned — due the day after;
        - an active contract ends (its Hauptfälligkeit task is cancelled, none is planned);
        - a consent starts (granted for a later day);
        - a classified customer without a class entry date: "every N months" counts from the
          run date, so its steps move every day.

        Everything else planning reads changes only with a row (see `dirty_customers_sql`)."""

        t, d = self.t, self.d
        recurring = ", ".join(
            f"'{r}'" for r in (Recurrence.EVERY_N_MONTHS, Recurrence.BIRTHDAY, Recurrence.BEFORE_MAIN_DUE)
        )
        ahead = d.add_days(
            "o.occurrence",
            f"CASE WHEN a.recurrence = '{Recurrence.BEFORE_MAIN_DUE}' THEN 1 - a.weeks_before * 7 ELSE 1 END",
        )
        wakes = f"""SELECT x.customer_id, x.d FROM (
                SELECT o.customer_id AS customer_id, {ahead} AS d
                FROM {t["task"]} o JOIN {t["activity"]} a ON a.id = o.activity_id
                WHERE o.status IN ('done', 'skipped') AND a.recurrence IN ({recurring})
                  AND o.occurrence >= %(as_of)s AND {chunk.sql("o.customer_id")}) x
            WHERE x.d > %(as_of)s
            UNION ALL
            SELECT k.customer_id, k.end_date FROM {CONTRACTS} k WHERE k.end_date > %(as_of)s
            UNION ALL
            SELECT mc.customer_id, mc.granted_on FROM {t["consent"]} mc
            WHERE mc.granted_on > %(as_of)s AND {chunk.sql("mc.customer_id")}
            UNION ALL
            SELECT c.id, {d.add_days("%(as_of)s", "1")} FROM {CUSTOMERS} c
            WHERE c.segment <> '' AND c.segment_since IS NULL"""
        columns = (
            "segment",
            "status",
            "segment_since",
            "birth_date",
            "biggest_gap_id",
            "restricted",
            "gaps",
            "wake_on",
        )
        updates = ", ".join(f"{col} = excluded.{col}" for col in (*columns, "planned_on"))
        return f"""INSERT INTO {t["state"]} (customer_id, {", ".join(columns)}, planned_on)
        SELECT c.id, c.segment, c.status, c.segment_since, c.birth_date, c.biggest_gap_id,
            c.restricted_at IS NOT NULL, COALESCE(g.n, 0), w.wake_on, %(as_of)s
        FROM {CUSTOMERS} c
        LEFT JOIN (SELECT v.customer_id AS customer_id, MIN(v.d) AS wake_on FROM ({wakes}) v
                   GROUP BY v.customer_id) w ON w.customer_id = c.id
        LEFT JOIN ({self._gap_counts(chunk.sql("pc.customer_id"))}) g ON g.customer_id = c.id
        ON CONFLICT (customer_id) DO UPDATE SET {updates}"""


def _gap_counts(t: dict[str, str], where: str) -> str:
    """Gap rows per customer (read from the index of the component table's unique key)."""
    if not t["potential"]:
        return "SELECT CAST(NULL AS bigint) AS customer_id, 0 AS n WHERE 1 = 0"
    return f"""SELECT pc.customer_id AS customer_id, COUNT(*) AS n FROM {t["potential"]} pc
        WHERE pc.kind = 'gap' AND {where} GROUP BY pc.customer_id"""


def dirty_customers_sql() -> str:
    """The customers an incremental run plans again (parameters: as_of, since = the start of
    the last run, component_id = the highest gap row id then): every customer for whom a full
    run could do something, because since its last planning

    - a customer column planning reads changed (class, status, class entry, birth date,
      biggest gap, Art. 18 restriction) or it was never planned;
    - its `wake_on` day has come (time alone moves its plan, see `Planner.state_statement`);
    - a contract or consent was written or deleted (`updated_at`, and the audit history,
      which also records deletions and a contract's move to another customer);
    - a task was created or closed other than by planning (completed, skipped);
    - a gap row appeared (the job rewrites a changed gap as a new row: a higher id) or was
      deleted (the count of its gap rows differs; the job never updates a row in place).

    Not seen: edits that bypass both `updated_at` and the audit history, and tasks edited or
    deleted by hand (admin) — `plan_care --full` (or a catalogue change) plans everyone."""
    t, d = _tables(), dialect()
    changed = " OR ".join(
        d.distinct(f"c.{col}", f"s.{col}") for col in ("segment_since", "birth_date", "biggest_gap_id")
    )
    parts = [
        f"""SELECT c.id AS customer_id FROM {t["customer"]} c
        LEFT JOIN {t["state"]} s ON s.customer_id = c.id
        LEFT JOIN ({_gap_counts(t, "1 = 1")}) g ON g.customer_id = c.id
        WHERE s.customer_id IS NULL OR s.wake_on <= %(as_of)s OR c.segment <> s.segment
           OR c.status <> s.status OR {changed} OR (c.restricted_at IS NOT NULL) <> s.restricted
           OR COALESCE(g.n, 0) <> s.gaps""",
        f"SELECT customer_id FROM {t['contract']} WHERE updated_at >= %(since)s",
        f"""SELECT customer_id FROM {t["contract_history"]}
        WHERE history_date >= %(since)s AND customer_id IS NOT NULL""",
        f"""SELECT o.customer_id FROM {t["task"]} o
        WHERE o.status = 'open' AND o.contract_id IN (
            SELECT id FROM {t["contract_history"]} WHERE history_date >= %(since)s)""",
        f"SELECT customer_id FROM {t['consent']} WHERE updated_at >= %(since)s",
        f"""SELECT customer_id FROM {t["consent_history"]}
        WHERE history_date >= %(since)s AND customer_id IS NOT NULL""",
        f"SELECT customer_id FROM {t['task']} WHERE closed_at > %(since)s OR created_at > %(since)s",
    ]
    if t["potential"]:
        # A new gap row (the job writes a changed gap as a new row) has a higher id.
        parts.append(f"SELECT customer_id FROM {t['potential']} WHERE id > %(component_id)s AND kind = 'gap'")
    else:
        parts.append(
            f"SELECT customer_id FROM {t['task']} WHERE status = 'open' AND line_of_business_id IS NOT NULL"
        )
    return "\nUNION\n".join(parts)


# The catalogue columns planning reads: a change to any of them re-plans every customer.
CATALOGUE_FIELDS = (
    "id",
    "service_level__segment",
    "recurrence",
    "interval_months",
    "weeks_before",
    "days_after",
    "min_gap_value",
    "biggest_gap_only",
    "channel",
    "marketing",
    "performer",
    "active",
)


def catalogue_digest() -> str:
    """A digest of what planning reads from the catalogue (a few dozen rows)."""
    rows = CareActivity.objects.order_by("id").values_list(*CATALOGUE_FIELDS)
    return hashlib.sha256(repr([tuple(str(v) for v in row) for row in rows]).encode()).hexdigest()


def last_component_id() -> int:
    component = gap_model()
    if component is None:
        return 0
    return component.objects.aggregate(m=Max("id"))["m"] or 0


def dirty_customer_ids(*, as_of: dt.date, since: dt.datetime, component_id: int) -> list[int]:
    with connection.cursor() as cursor:
        params = {
            "as_of": as_of,
            "since": connection.ops.adapt_datetimefield_value(since),
            "component_id": component_id,
        }
        with transaction.atomic():
            if connection.vendor == "postgresql":
                cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
                # Customers, their planning state and the gap-row counts are all in customer-id
                # order in their primary keys / the component key: merged in that order instead
                # of hashing a million rows each (measured at 1M: 2.2 s instead of 4.7 s).
                cursor.execute("SET LOCAL enable_hashjoin = off")
                cursor.execute("SET LOCAL enable_hashagg = off")
            cursor.execute(dirty_customers_sql(), params)
            return sorted(row[0] for row in cursor.fetchall())


def planning_state_prune() -> int:
    """Delete the planning state of deleted customers: an anti join (NOT IN over a million ids
    ran for minutes on PostgreSQL, as a subplan that does not fit in memory)."""
    t = _tables()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""DELETE FROM {t["state"]} WHERE NOT EXISTS (
                SELECT 1 FROM {t["customer"]} c WHERE c.id = {t["state"]}.customer_id)"""
        )
        return max(cursor.rowcount, 0)
