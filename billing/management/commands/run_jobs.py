"""`manage.py run_jobs`: run the app's scheduled jobs once, for cron (billing/jobs.py).

The mail worker runs them every JOBS_INTERVAL seconds already; this is for an
installation that prefers cron, or to run one job by hand."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from billing.jobs import JOBS, run_jobs


class Command(BaseCommand):
    help = (
        "Run the scheduled jobs once and exit: the admins' daily digest, the reminders to "
        "set up a payment profile, the card expiry warnings and the deactivation of expired "
        "cards. Each sends what is due now, once, however often it runs and however many "
        "run at a time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "jobs",
            nargs="*",
            metavar="JOB",
            help=f"Only these of {', '.join(JOBS)} (default: all).",
        )

    def handle(self, *args, jobs: list[str], **options):
        unknown = sorted(set(jobs) - set(JOBS))
        if unknown:
            raise CommandError(f"No job {', '.join(unknown)}: choose from {', '.join(JOBS)}.")
        done = run_jobs(jobs or None)
        for name, count in done.items():
            self.stdout.write(f"{name}: {count}")
