"""The dossier format, its public forms, and the independent verifier tools/verify_draw.py."""
from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import random
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from app.draws import algorithm
from app.draws.algorithm import InspectorCandidate, PoolEntity, QuotaRule, TeamRule
from app.draws.dossier import build_dossier, commitment_record, dumps, public_record

ROOT = Path(__file__).resolve().parent.parent
VERIFIER = ROOT / "tools" / "verify_draw.py"
SERVER_SEED = hashlib.sha256(b"verify-draw tests").digest()
WITNESS = " 监督员 王某 4417 "
TASK = "HD-COM-2023-007"
RATIOS = {"A": "0.01", "B": "0.03", "C": "0.10", "D": "0.30", "U": "0.03"}


def load_verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_draw", VERIFIER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verifier = load_verifier()


def make_draw(quota_rule: QuotaRule | None = None, seed: int = 4) -> dict[str, Any]:
    rng = random.Random(seed)
    pool = [PoolEntity(f"9114050{i:010d}X", rng.choice("AABBBBCCDU"), f"S{rng.randrange(4)}") for i in range(600)]
    people = [
        InspectorCandidate(
            f"1405{i:05d}",
            f"S{rng.randrange(4)}",
            tuple(q for q in ("food", "drug", "price") if rng.random() < 0.4),
            rng.randrange(3),
            frozenset(rng.sample([e.uscc for e in pool], 10)),
        )
        for i in range(45)
    ]
    quota_rule = quota_rule or QuotaRule("ratio", ratios=RATIOS)
    team_rule = TeamRule(2, ("food", "drug"), True, 7)
    result = algorithm.run_draw(SERVER_SEED, WITNESS, TASK, pool, quota_rule, people, team_rule)
    return build_dossier("42", TASK, SERVER_SEED, WITNESS, pool, quota_rule, result.strata, result.selected,
                         team_rule, people, result.teams)


@pytest.fixture(scope="module")
def dossier() -> dict[str, Any]:
    return make_draw()


def run_script(tmp_path: Path, record: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "dossier.json"
    path.write_text(dumps(record), encoding="utf-8")
    # -I -S: no site-packages, no project on the path: the script must stand on the standard library.
    return subprocess.run([sys.executable, "-I", "-S", str(VERIFIER), str(path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


# --- the dossier format ---------------------------------------------------------------------


def test_dossier_has_the_specified_shape(dossier: dict[str, Any]) -> None:
    assert list(dossier) == ["algorithm", "draw_id", "task_code", "commitment", "server_seed", "witness_entropy",
                             "pool_digest", "quota_rule", "pool", "strata", "selected", "team_rule", "inspectors",
                             "teams"]
    assert dossier["algorithm"] == "suiji-draw-v1" and dossier["draw_id"] == "42"
    for key in ("commitment", "server_seed", "pool_digest"):
        assert re.fullmatch(r"[0-9a-f]{64}", dossier[key])
    assert dossier["commitment"] == hashlib.sha256(SERVER_SEED).hexdigest()
    assert dossier["witness_entropy"] == WITNESS  # as typed, not stripped
    assert dossier["quota_rule"] == {"kind": "ratio", "ratios": RATIOS}
    usccs = [e["uscc"] for e in dossier["pool"]]
    assert usccs == sorted(usccs) and set(dossier["pool"][0]) == {"uscc", "credit_class", "station"}
    assert [s["name"] for s in dossier["strata"]] == sorted(s["name"] for s in dossier["strata"])
    assert sum(s["quota"] for s in dossier["strata"]) == len(dossier["selected"]) > 0
    certs = [p["certificate_no"] for p in dossier["inspectors"]]
    assert certs == sorted(certs)
    assert list(dossier["inspectors"][0]) == ["certificate_no", "station", "qualifications", "open_cases", "conflicts"]
    assert all(p["conflicts"] == sorted(p["conflicts"]) for p in dossier["inspectors"])
    assert list(dossier["teams"]) == dossier["selected"]
    assert dossier["team_rule"] == {"team_size": 2, "required_qualifications": ["food", "drug"], "cross_station": True,
                                    "case_cap": 7}
    assert json.loads(dumps(dossier)) == dossier


def test_public_record_hides_pool_inspectors_teams_and_classes(dossier: dict[str, Any]) -> None:
    record = public_record(dossier)
    assert "pool" not in record and "inspectors" not in record and "teams" not in record
    assert [s["name"] for s in record["strata"]] == [f"S{n}" for n in range(1, len(dossier["strata"]) + 1)]
    assert [(s["size"], s["quota"]) for s in record["strata"]] == [(s["size"], s["quota"]) for s in dossier["strata"]]
    assert record["selected"] == dossier["selected"] and record["commitment"] == dossier["commitment"]
    assert record["server_seed"] == dossier["server_seed"] and record["pool_digest"] == dossier["pool_digest"]
    text = dumps(record)
    assert "credit_class" not in text and "certificate_no" not in text
    assert dossier["strata"][0]["name"] == "A"  # the dossier itself is untouched


def test_commitment_record() -> None:
    when = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
    commitment = algorithm.commitment_of(SERVER_SEED)
    assert commitment_record(7, TASK, commitment.upper(), when) == {
        "algorithm": "suiji-draw-v1", "draw_id": "7", "task_code": TASK, "commitment": commitment,
        "scheduled_at": "2026-03-02T09:30:00+00:00",
    }


def test_explain_from_dossier_accounts_for_each_team(dossier: dict[str, Any]) -> None:
    for uscc in dossier["selected"][:10]:
        rows = algorithm.explain_from_dossier(dossier, uscc)
        assert len(rows) == len(dossier["inspectors"])
        eligible = [r["certificate_no"] for r in rows if r["eligible"]]
        assert set(dossier["teams"][uscc]) <= set(eligible)
        assert {r["reason"] for r in rows} <= {"eligible", "conflict", "same_station", "case_cap"}
    with pytest.raises(algorithm.DrawError):
        algorithm.explain_from_dossier(dossier, "91140599999999999X")


# --- the verifier agrees with the algorithm -------------------------------------------------


def test_verifier_is_standalone() -> None:
    source = VERIFIER.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from|import)\s+app\b", source, re.MULTILINE)


def test_genuine_dossier_verifies(dossier: dict[str, Any], tmp_path: Path) -> None:
    assert verifier.verify(copy.deepcopy(dossier)) == []
    done = run_script(tmp_path, dossier)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK: draw 42 of task HD-COM-2023-007")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_other_draws_verify(seed: int) -> None:
    assert verifier.verify(make_draw(seed=seed)) == []
    assert verifier.verify(make_draw(QuotaRule("count", count=25), seed=seed)) == []
    assert verifier.verify(make_draw(QuotaRule("ratio", ratios={"B": "0.05", "D": "0.25"}), seed=seed)) == []


def test_golden_draw_of_the_algorithm_tests_verifies() -> None:
    from tests.test_draw_algorithm import GOLDEN_SELECTED, GOLDEN_TEAMS

    pool = [PoolEntity(f"91140500{i:09d}X", "ABCDU"[i % 5], f"S{i % 2}") for i in range(40)]
    people = [InspectorCandidate(f"C{i:03d}", f"S{i % 2}", ("food",) if i % 3 == 0 else (), 0, frozenset())
              for i in range(8)]
    rule = QuotaRule("ratio", ratios={"A": "0.1", "B": "0.2", "C": "0.3", "D": "0.5", "U": "0.25"})
    strata = algorithm.compute_strata(pool, rule)
    record = build_dossier("g", "GOLD-1", bytes(range(32)), "golden", pool, rule, strata, GOLDEN_SELECTED,
                           TeamRule(2, ("food",), True, 10), people, GOLDEN_TEAMS)
    assert verifier.verify(record) == []


# --- tampering is caught --------------------------------------------------------------------


def _non_selected(d: dict[str, Any], cls: str | None = None) -> str:
    chosen = set(d["selected"])
    return next(e["uscc"] for e in d["pool"] if e["uscc"] not in chosen and (cls is None or e["credit_class"] == cls))


def tamper_selected(d: dict[str, Any]) -> str:
    old = d["selected"][3]
    new = _non_selected(d, next(e["credit_class"] for e in d["pool"] if e["uscc"] == old))
    d["selected"][3] = new
    d["teams"] = {new if k == old else k: v for k, v in d["teams"].items()}
    return f"selected[3]: expected {old}, dossier has {new}"


def tamper_selected_order(d: dict[str, Any]) -> str:
    d["selected"][0], d["selected"][1] = d["selected"][1], d["selected"][0]
    return "selected[0]: expected"


def tamper_team_member(d: dict[str, Any]) -> str:
    uscc = d["selected"][5]
    team = d["teams"][uscc]
    other = next(p["certificate_no"] for p in d["inspectors"] if p["certificate_no"] not in team)
    d["teams"][uscc] = [team[0], other] + team[2:]
    return f"teams[{uscc}]: expected {team}, dossier has"


def tamper_team_order(d: dict[str, Any]) -> str:
    uscc = d["selected"][0]
    d["teams"][uscc] = list(reversed(d["teams"][uscc]))
    return f"teams[{uscc}]: expected"


def tamper_server_seed(d: dict[str, Any]) -> str:
    d["server_seed"] = hashlib.sha256(b"another seed").hexdigest()
    return "commitment does not match server_seed"


def tamper_seed_and_commitment(d: dict[str, Any]) -> str:
    seed = hashlib.sha256(b"another seed").digest()
    d["server_seed"], d["commitment"] = seed.hex(), hashlib.sha256(seed).hexdigest()
    return "selected["


def tamper_witness(d: dict[str, Any]) -> str:
    d["witness_entropy"] = d["witness_entropy"].strip()
    return "selected["


def tamper_pool_add(d: dict[str, Any]) -> str:
    d["pool"].append({"uscc": "91140599999999999X", "credit_class": "D", "station": "S1"})
    return "pool_digest: expected"


def tamper_pool_remove(d: dict[str, Any]) -> str:
    d["pool"] = [e for e in d["pool"] if e["uscc"] != _non_selected(d)]
    return "pool_digest: expected"


def tamper_pool_class(d: dict[str, Any]) -> str:
    entity = next(e for e in d["pool"] if e["uscc"] == d["selected"][0])
    entity["credit_class"] = "A" if entity["credit_class"] != "A" else "D"
    return "strata: expected"


def tamper_quota_rule(d: dict[str, Any]) -> str:
    d["quota_rule"]["ratios"]["D"] = "0.20"
    return "strata: expected"


def tamper_commitment_case(d: dict[str, Any]) -> str:
    d["commitment"] = d["commitment"].upper()
    return "commitment does not match server_seed"


def tamper_missing_team(d: dict[str, Any]) -> str:
    uscc = d["selected"][-1]
    del d["teams"][uscc]
    return f"teams[{uscc}]: missing from the dossier"


def tamper_open_cases(d: dict[str, Any]) -> str:
    # The first team's first member already at the cap: the matching must change.
    first = d["teams"][d["selected"][0]][0]
    next(p for p in d["inspectors"] if p["certificate_no"] == first)["open_cases"] = d["team_rule"]["case_cap"]
    return "teams["


def tamper_team_size(d: dict[str, Any]) -> str:
    d["team_rule"]["team_size"] = 1
    return "at least 2 inspectors are required"


TAMPERINGS = [tamper_selected, tamper_selected_order, tamper_team_member, tamper_team_order, tamper_server_seed,
              tamper_seed_and_commitment, tamper_witness, tamper_pool_add, tamper_pool_remove, tamper_pool_class,
              tamper_quota_rule, tamper_commitment_case, tamper_missing_team, tamper_open_cases, tamper_team_size]


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda f: f.__name__)
def test_tampering_is_reported(tamper: Any, dossier: dict[str, Any], tmp_path: Path) -> None:
    forged = copy.deepcopy(dossier)
    expected = tamper(forged)
    problems = verifier.verify(forged)
    assert problems, "the verifier accepted a forged dossier"
    assert any(expected in line for line in problems), problems
    done = run_script(tmp_path, forged)
    assert done.returncode == 1, done.stdout
    assert expected in done.stdout and "FAILED" in done.stdout


def test_impossible_draw_is_reported() -> None:
    """A dossier claiming teams the inspectors cannot make up."""
    pool = [PoolEntity(f"9114050{i:010d}X", "B", "S1") for i in range(30)]
    people = [InspectorCandidate(f"C{i}", "S2", (), 0, frozenset()) for i in range(2)]
    rule_q, rule_t = QuotaRule("count", count=3), TeamRule(2, (), False, 2)
    seed = algorithm.derive_seed(SERVER_SEED, WITNESS)
    strata, selected = algorithm.select_entities(seed, TASK, pool, rule_q)
    with pytest.raises(algorithm.InsufficientInspectors):
        algorithm.assign_teams(seed, TASK, selected, pool, people, rule_t)
    teams = {u: ["C0", "C1"] for u in selected}
    record = build_dossier("9", TASK, SERVER_SEED, WITNESS, pool, rule_q, strata, selected, rule_t, people, teams)
    problems = verifier.verify(record)
    assert any("the rules cannot be met" in p and selected[2] in p for p in problems), problems


def test_unreadable_and_malformed_input(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    done = subprocess.run([sys.executable, "-I", "-S", str(VERIFIER), str(tmp_path / "bad.json")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert verifier.verify({"algorithm": "suiji-draw-v1", "task_code": "T"})[0].startswith("the dossier is malformed")
    assert verifier.verify({"algorithm": "other"}) == ["algorithm: expected 'suiji-draw-v1', dossier has 'other'"]
