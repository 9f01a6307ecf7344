#!/usr/bin/env python3
"""Check a Suiji draw dossier by re-doing the whole draw ("suiji-draw-v1").

Usage:  python3 verify_draw.py DOSSIER.json     (or "-" to read standard input)

Exit status 0 and a line "OK: ..." when every figure in the dossier is what the
rules produce; exit status 1 and one line per difference otherwise; 2 when the
file cannot be read. Needs only Python 3.9+ and its standard library: this file
does not use any part of the Suiji application, so it checks the application
instead of repeating its mistakes.

How a draw works, and what this script re-computes
---------------------------------------------------

1. Commitment. Before the sitting the system draws a secret 32-byte
   "server seed" and publishes its SHA-256 hash, the "commitment". Having
   published it, the system can no longer change the seed. The script checks
   that SHA-256(server_seed) equals the commitment.

2. Seed. At the sitting a witness types any text, the "witness entropy". The
   seed of the draw is SHA-256(server_seed followed by the UTF-8 bytes of the
   witness text, exactly as typed). The system did not know the witness text in
   advance and the witness did not know the server seed, so neither could steer
   the result.

3. Pool. The pool is the list of entities that could be drawn, each with its
   unified social credit code (USCC), its credit-risk class (A, B, C, D, or U
   for unclassified) and its station. Its fingerprint, the "pool digest", is
   the SHA-256 of all USCCs sorted in ascending order, each followed by a line
   break.

4. Scores. Every entity gets a score: HMAC-SHA256 with the seed as key over
   the text "entity:<task code>:<USCC>", written as lowercase hexadecimal. A
   score is a random-looking number nobody can predict without the seed.

5. Strata and quotas. With a ratio rule, each credit class present in the pool
   is a stratum; its quota is the stratum size times the class's ratio, rounded
   up, computed with exact decimals (101 x 0.03 = 3.03 gives 4). A class
   without a ratio gets quota 0. With a count rule, the whole pool is one
   stratum "ALL" and the quota is the count. A quota never exceeds the size.

6. Selection. In each stratum the entities with the lowest scores are selected,
   as many as the quota (equal scores: lower USCC first). The selected list is
   all of them in ascending score.

7. Inspectors. Taking the selected entities in ascending score, each gets a
   team. An inspector is eligible for an entity when no conflict of interest is
   declared with it, when, on a cross-station task, the inspector is not of the
   entity's station (a blank station matches nobody), and when the inspector's
   load (open cases plus teams given earlier in this draw) is below the case
   cap. Each inspector's score for the entity is HMAC-SHA256 with the seed as
   key over "inspector:<task code>:<USCC>:<certificate number>" (equal scores:
   lower certificate number first). For every required qualification, in the
   order listed, if nobody in the team holds it yet, the lowest-scoring eligible
   holder joins; then the lowest-scoring eligible others join until the team
   size is reached. If that is impossible for any entity, the draw must not
   have happened at all.

Large draws take a while: a pool of a million entities with 30,000 selected and
2,000 inspectors means some 60 million HMACs, a few minutes of computing.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from decimal import ROUND_CEILING, Decimal, InvalidOperation, localcontext
from typing import Any

ALGORITHM = "suiji-draw-v1"
CLASSES = ["A", "B", "C", "D", "U"]
MAX_REPORTED = 50  # differences listed per kind before "... and N more"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def is_hex(value: Any, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and all(c in "0123456789abcdef" for c in value)


def quota_of(size: int, ratio_text: str) -> int:
    """Size times ratio, rounded up, exactly; never more than the size."""
    with localcontext() as context:
        context.prec = 100
        product = Decimal(size) * Decimal(ratio_text)
        return min(size, int(product.to_integral_value(rounding=ROUND_CEILING)))


class Report:
    """Collects differences, listing at most MAX_REPORTED of each kind."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.counts: dict[str, int] = {}

    def add(self, kind: str, text: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= MAX_REPORTED:
            self.lines.append(text)

    def finish(self) -> list[str]:
        extra = [f"{kind}: ... and {n - MAX_REPORTED} more differences"
                 for kind, n in self.counts.items() if n > MAX_REPORTED]
        return self.lines + extra


def expected_strata(pool: list[dict], quota_rule: dict) -> list[dict]:
    """Step 5: the strata, sorted by name."""
    if quota_rule.get("kind") == "count":
        count = quota_rule.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError("quota_rule.count must be a non-negative integer")
        return [{"name": "ALL", "size": len(pool), "quota": min(count, len(pool))}]
    if quota_rule.get("kind") != "ratio" or not isinstance(quota_rule.get("ratios"), dict):
        raise ValueError("quota_rule must be {kind: ratio, ratios: {...}} or {kind: count, count: n}")
    ratios = quota_rule["ratios"]
    for name, text in ratios.items():
        if name not in CLASSES:
            raise ValueError(f"quota_rule.ratios has an unknown class {name!r}")
        try:
            value = Decimal(text) if isinstance(text, str) else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or not 0 <= value <= 1:
            raise ValueError(f"quota_rule.ratios[{name}] must be a decimal string between 0 and 1, got {text!r}")
    sizes: dict[str, int] = {}
    for entity in pool:
        sizes[entity["credit_class"]] = sizes.get(entity["credit_class"], 0) + 1
    strata = []
    for name in sorted(sizes):
        quota = quota_of(sizes[name], ratios[name]) if name in ratios else 0
        strata.append({"name": name, "size": sizes[name], "quota": quota})
    return strata


def expected_selection(
    seed: bytes, task_code: str, pool: list[dict], quota_rule: dict, strata: list[dict]
) -> list[str]:
    """Step 6: the selected USCCs in ascending score."""
    quota = {s["name"]: s["quota"] for s in strata}
    members: dict[str, list[tuple[str, str]]] = {name: [] for name in quota}
    for entity in pool:
        name = "ALL" if quota_rule["kind"] == "count" else entity["credit_class"]
        if quota[name] > 0:
            score = hmac_hex(seed, f"entity:{task_code}:{entity['uscc']}")
            members[name].append((score, entity["uscc"]))
    chosen: list[tuple[str, str]] = []
    for name, scored in members.items():
        chosen += sorted(scored)[: quota[name]]
    return [uscc for score, uscc in sorted(chosen)]


def expected_teams(
    seed: bytes, task_code: str, order: list[str], stations: dict[str, str], inspectors: list[dict], team_rule: dict
) -> tuple[dict[str, list[str]], list[str]]:
    """Step 7: the team of every entity in ``order``, and any entity the rules cannot serve."""
    size = team_rule["team_size"]
    required = team_rule["required_qualifications"]
    cap = team_rule["case_cap"]
    cross_station = team_rule["cross_station"]
    load = {person["certificate_no"]: person["open_cases"] for person in inspectors}
    # (certificate number, station, qualifications, conflicts) of each inspector, as sets once.
    people = [
        (person["certificate_no"], person["station"], set(person["qualifications"]), set(person["conflicts"]))
        for person in inspectors
    ]
    teams: dict[str, list[str]] = {}
    impossible: list[str] = []
    for uscc in order:
        station = stations[uscc]
        eligible = []
        for certificate_no, home, qualifications, conflicts in people:
            if uscc in conflicts:
                continue
            if cross_station and station and home == station:
                continue
            if load[certificate_no] >= cap:
                continue
            score = hmac_hex(seed, f"inspector:{task_code}:{uscc}:{certificate_no}")
            eligible.append((score, certificate_no, qualifications))
        eligible.sort()
        team: list[str] = []
        held: set[str] = set()
        for qualification in required:
            if qualification in held:
                continue
            holder = next((e for e in eligible if qualification in e[2] and e[1] not in team), None)
            if holder is None:
                impossible.append(f"{uscc}: no eligible inspector holds {qualification!r}")
                continue
            team.append(holder[1])
            held |= holder[2]
        for score, certificate_no, qualifications in eligible:
            if len(team) >= size:
                break
            if certificate_no not in team:
                team.append(certificate_no)
        if len(team) < size:
            impossible.append(f"{uscc}: a team of {size} is needed, only {len(eligible)} inspectors are eligible")
        for certificate_no in team:
            load[certificate_no] += 1
        teams[uscc] = team
    return teams, impossible


def verify(dossier: dict) -> list[str]:
    """Every difference between the dossier and a re-computation of the draw (empty: all holds)."""
    report = Report()
    try:
        _verify(dossier, report)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        report.add("format", f"the dossier is malformed: {type(exc).__name__}: {exc}")
    return report.finish()


def _verify(d: dict, report: Report) -> None:
    if d.get("algorithm") != ALGORITHM:
        report.add("algorithm", f"algorithm: expected {ALGORITHM!r}, dossier has {d.get('algorithm')!r}")
        return
    task_code = d["task_code"]

    # 1. Commitment.
    if not is_hex(d["server_seed"], 64):
        report.add("server_seed", "server_seed must be 64 lowercase hex characters (32 bytes)")
        return
    server_seed = bytes.fromhex(d["server_seed"])
    if sha256_hex(server_seed) != d["commitment"]:
        report.add("commitment", "commitment does not match server_seed")

    # 2. Seed.
    witness = d["witness_entropy"]
    if not isinstance(witness, str) or not witness.strip():
        report.add("witness_entropy", "witness_entropy is empty")
        return
    seed = hashlib.sha256(server_seed + witness.encode("utf-8")).digest()

    # 3. Pool.
    pool = d["pool"]
    usccs = [entity["uscc"] for entity in pool]
    if usccs != sorted(usccs):
        report.add("pool", "pool is not sorted by uscc")
    if len(set(usccs)) != len(usccs):
        report.add("pool", "pool lists an entity twice")
    for entity in pool:
        if entity["credit_class"] not in CLASSES:
            report.add("pool", f"pool[{entity['uscc']}]: unknown credit class {entity['credit_class']!r}")
    digest = sha256_hex("".join(uscc + "\n" for uscc in sorted(usccs)).encode("utf-8"))
    if digest != d["pool_digest"]:
        report.add("pool_digest", f"pool_digest: expected {digest}, dossier has {d['pool_digest']}")
    pool = [entity for entity in pool if entity["credit_class"] in CLASSES]

    # 5. Strata.
    strata = expected_strata(pool, d["quota_rule"])
    if strata != d["strata"]:
        report.add("strata", f"strata: expected {strata}, dossier has {d['strata']}")

    # 6. Selection.
    selected = expected_selection(seed, task_code, pool, d["quota_rule"], strata)
    given = d["selected"]
    if len(given) != len(selected):
        report.add("selected", f"selected: expected {len(selected)} entities, dossier has {len(given)}")
    for position, (expected, found) in enumerate(zip(selected, given)):
        if expected != found:
            report.add("selected", f"selected[{position}]: expected {expected}, dossier has {found}")

    # 7. Teams, re-run on the dossier's own selection taken in ascending score.
    rule = d["team_rule"]
    size = rule["team_size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 2:
        report.add("team_rule", f"team_rule.team_size is {size!r}; at least 2 inspectors are required")
    inspectors = d["inspectors"]
    certificates = [person["certificate_no"] for person in inspectors]
    if certificates != sorted(certificates) or len(set(certificates)) != len(certificates):
        report.add("inspectors", "inspectors are not sorted by certificate_no, or one appears twice")
    stations = {entity["uscc"]: entity["station"] for entity in pool}
    unknown = [uscc for uscc in given if uscc not in stations]
    if unknown:
        report.add("teams", f"teams: cannot be re-run, selected entities not in the pool: {unknown[:5]}")
        return
    if len(set(given)) != len(given):
        report.add("selected", "selected lists an entity twice")
        return
    order = sorted(given, key=lambda uscc: (hmac_hex(seed, f"entity:{task_code}:{uscc}"), uscc))
    teams, impossible = expected_teams(seed, task_code, order, stations, inspectors, rule)
    for problem in impossible:
        report.add("impossible", f"teams: the rules cannot be met: {problem}")
    dossier_teams = d["teams"]
    for uscc in order:
        if uscc not in dossier_teams:
            report.add("teams", f"teams[{uscc}]: missing from the dossier")
        elif dossier_teams[uscc] != teams[uscc]:
            report.add("teams", f"teams[{uscc}]: expected {teams[uscc]}, dossier has {dossier_teams[uscc]}")
    for uscc in dossier_teams:
        if uscc not in teams:
            report.add("teams", f"teams[{uscc}]: this entity was not selected")


def summary(d: dict) -> str:
    teams = d.get("teams", {})
    strata = ", ".join(f"{s['name']} {s['quota']}/{s['size']}" for s in d["strata"])
    return (
        f"OK: draw {d['draw_id']} of task {d['task_code']} verified: commitment and seed, "
        f"pool of {len(d['pool'])} entities (digest {d['pool_digest'][:16]}...), strata [{strata}], "
        f"{len(d['selected'])} selected entities and {len(teams)} teams from {len(d['inspectors'])} inspectors"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Re-compute a suiji-draw-v1 draw from its dossier.")
    parser.add_argument("dossier", help="the dossier JSON file, or - for standard input")
    args = parser.parse_args(argv)
    try:
        if args.dossier == "-":
            dossier = json.load(sys.stdin)
        else:
            with open(args.dossier, encoding="utf-8") as handle:
                dossier = json.load(handle)
    except (OSError, ValueError) as exc:
        print(f"cannot read {args.dossier}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(dossier, dict):
        print("the dossier must be a JSON object", file=sys.stderr)
        return 2
    problems = verify(dossier)
    if problems:
        for line in problems:
            print(line)
        print(f"FAILED: {len(problems)} difference(s) between the dossier and the re-computed draw")
        return 1
    print(summary(dossier))
    return 0


if __name__ == "__main__":
    sys.exit(main())
