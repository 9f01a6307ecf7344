"""The draw dossier (what ``tools/verify_draw.py`` reads) and its public forms.

The dossier is one JSON object holding everything needed to re-run a draw:
the seed material, the pool with credit classes and stations, the rules, the
inspectors as they stood at the sitting, and the result. Every hex string is
lowercase; every list has a fixed order, so two builds of the same draw are
byte-identical once serialised with ``dumps``.

The public record leaves out the pool, the inspectors and the teams, and names
the strata S1, S2, ... instead of by credit class: credit classes are never shown
publicly. Note that the published ratios together with the strata sizes still
let a reader guess which S-number is which class; what stays private is which
entity belongs to which class.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from app.draws.algorithm import (
    ALGORITHM,
    InspectorCandidate,
    PoolEntity,
    QuotaRule,
    Stratum,
    TeamRule,
    commitment_of,
    pool_digest,
)

PRIVATE_KEYS = ("pool", "inspectors", "teams")


def build_dossier(
    draw_id: str,
    task_code: str,
    server_seed: bytes,
    witness_entropy: str,
    pool: Iterable[PoolEntity],
    quota_rule: QuotaRule,
    strata: Sequence[Stratum],
    selected: Sequence[str],
    team_rule: TeamRule,
    inspectors: Iterable[InspectorCandidate],
    teams: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """The dossier of a drawn round, in the suiji-draw-v1 format.

    ``selected`` stays in the order given (ascending entity score, as drawn); the
    teams follow it, members in the order they were added. Pool and inspectors are
    sorted by USCC and certificate number, strata by name; qualifications and
    conflicts are sorted because they are sets.
    """
    entities = sorted(pool, key=lambda e: e.uscc)
    people = sorted(inspectors, key=lambda p: p.certificate_no)
    return {
        "algorithm": ALGORITHM,
        "draw_id": str(draw_id),
        "task_code": task_code,
        "commitment": commitment_of(server_seed),
        "server_seed": server_seed.hex(),
        "witness_entropy": witness_entropy,
        "pool_digest": pool_digest(e.uscc for e in entities),
        "quota_rule": quota_rule.to_json(),
        "pool": [{"uscc": e.uscc, "credit_class": e.credit_class, "station": e.station} for e in entities],
        "strata": [{"name": s.name, "size": s.size, "quota": s.quota} for s in sorted(strata, key=lambda s: s.name)],
        "selected": list(selected),
        "team_rule": team_rule.to_json(),
        "inspectors": [
            {
                "certificate_no": p.certificate_no,
                "station": p.station,
                "qualifications": sorted(p.qualifications),
                "open_cases": p.open_cases,
                "conflicts": sorted(p.conflicts),
            }
            for p in people
        ],
        "teams": {uscc: list(teams[uscc]) for uscc in selected},
    }


def public_record(dossier: Mapping[str, Any]) -> dict[str, Any]:
    """The dossier less pool, inspectors and teams, strata renamed S1, S2, ... in sorted order."""
    record = {key: value for key, value in dossier.items() if key not in PRIVATE_KEYS}
    record["strata"] = [
        {"name": f"S{n}", "size": s["size"], "quota": s["quota"]}
        for n, s in enumerate(sorted(dossier["strata"], key=lambda s: s["name"]), start=1)
    ]
    return record


def commitment_record(
    draw_id: str, task_code: str, commitment: str, scheduled_at: datetime | date | str | None
) -> dict[str, Any]:
    """What is published before the sitting: the commitment to the (still secret) server seed."""
    when = scheduled_at.isoformat() if isinstance(scheduled_at, (datetime, date)) else scheduled_at
    return {
        "algorithm": ALGORITHM,
        "draw_id": str(draw_id),
        "task_code": task_code,
        "commitment": commitment.lower(),
        "scheduled_at": when,
    }


def dumps(dossier: Mapping[str, Any]) -> str:
    """Canonical JSON text of a dossier or record: UTF-8 characters kept, key order kept."""
    return json.dumps(dossier, ensure_ascii=False, separators=(",", ":"))
