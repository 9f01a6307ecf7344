"""``flask compliance ...``: the rule checks and the event log export from the command line."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

compliance_cli = AppGroup("compliance", help="Compliance review.")


@compliance_cli.command("check")
@click.option("--year", type=int, default=None, help="Only this plan year (default: every year).")
@click.option("--rule", "rule_codes", multiple=True, help="Only this rule (repeatable).")
@click.option("--reverify", is_flag=True, help="Re-run the draw verifier even on rounds with a kept verdict.")
def check(year: int | None, rule_codes: tuple[str, ...], reverify: bool) -> None:
    """Print every finding (rule, severity, subject, facts, trace path); exit 1 when there is any."""
    from app.compliance import rules
    from app.extensions import db

    try:
        report = rules.run_checks(year, list(rule_codes) or None, force_verify=reverify)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    db.session.commit()  # keeps the verifier's new verdicts
    for finding in report.findings:
        click.echo(f"{finding.rule}\t{finding.severity}\t{finding.subject_type}:{finding.subject_id}\t"
                   f"{finding.message}\t{finding.trace_path}")
    summary = ", ".join(f"{code} {count}" for code, count in report.counts.items())
    timing = sum(report.durations_ms.values())
    click.echo(f"{len(report.findings)} findings ({summary}); {report.draws_checked} draw rounds checked, "
               f"{report.draws_verified_now} verified now; {timing} ms", err=bool(report.findings))
    if report.findings:
        sys.exit(1)


@compliance_cli.command("eventlog")
@click.option("--format", "fmt", type=click.Choice(["xes", "csv"]), default="xes", show_default=True)
@click.option("--process", default=None, help="inspection_case (default), plan_approval, draw or referral.")
@click.option("--year", default=None, help="Only this plan year.")
@click.option("-o", "--output", default="-", show_default=True, help="File to write, '-' for standard output.")
def eventlog(fmt: str, process: str | None, year: str | None, output: str) -> None:
    """Write the event log as XES or CSV; the export is recorded in the audit log."""
    from app.compliance import eventlog as eventlogs
    from app.errors import ValidationFailed
    from app.extensions import db

    try:
        chosen = eventlogs.parse_request(process, year)
    except ValidationFailed as err:
        raise click.UsageError(str(err.message)) from err
    traces = eventlogs.count_traces(chosen)
    eventlogs.audit_export(chosen, fmt, None, traces_count=traces, via="cli")
    db.session.commit()
    stream = sys.stdout.buffer if output == "-" else open(output, "wb")  # noqa: SIM115
    try:
        for chunk in eventlogs.chunks(chosen, fmt):
            stream.write(chunk)
        stream.flush()
    finally:
        if output != "-":
            stream.close()
    click.echo(f"{traces} traces written ({fmt})", err=output == "-")
