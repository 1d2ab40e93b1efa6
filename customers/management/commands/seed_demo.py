"""python manage.py seed_demo --customers N [--seed S] [--if-empty] [--batch-size B] [--as-of DATE]"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from customers import demo


class Command(BaseCommand):
    help = (
        "Load a realistic German broker book (customers, households, contracts, Courtage ledger, "
        "demo users with password 'demo1234' — demo only). Deterministic for a seed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=3000, help="number of customers (default 3000)")
        parser.add_argument("--seed", type=int, default=42, help="random seed: same seed, same book")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when the database already holds customers"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=demo.DEFAULT_BATCH_SIZE,
            help="customers per batch; each batch is written in one transaction",
        )
        parser.add_argument(
            "--as-of",
            type=dt.date.fromisoformat,
            default=None,
            help="the day the book is built for (YYYY-MM-DD, default today); the ledger covers the 24 months before",
        )
        parser.add_argument(
            "--writers",
            type=int,
            default=2,
            help="PostgreSQL: database connections writing batches in parallel (default 2)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, customers, seed, if_empty, batch_size, as_of, writers, no_progress, **options):
        if customers < 1 or batch_size < 1:
            raise CommandError("--customers and --batch-size must be positive")
        if if_empty and not demo.database_is_empty():
            self.stdout.write("seed_demo: the database already holds customers; nothing loaded (--if-empty).")
            return
        result = demo.seed_demo(
            customers=customers,
            seed=seed,
            batch_size=batch_size,
            as_of=as_of,
            writers=writers,
            progress=not no_progress and options.get("verbosity", 1) > 0,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"seed_demo: {result.customers:,} customers, {result.households:,} households, "
                f"{result.contracts:,} contracts, {result.bookings:,} bookings, "
                f"{result.consents:,} consents, {result.activities:,} activities "
                f"in {result.seconds:.1f} s (seed {seed})"
            )
        )
        if options.get("verbosity", 1) > 1:
            for step, seconds in result.steps.items():
                self.stdout.write(f"  {step:<28} {seconds:7.1f} s")
