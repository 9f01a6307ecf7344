"""Draw benchmark: suiji-draw-v1 on a synthetic pool, no database.

Run: ``.venv/bin/python bench/draw_algorithm.py [--pool 1000000] [--ratio 0.03] [--inspectors 2000]
[--team-size 2] [--workers N] [--cross-station] [--qualification food ...] [--pure] [--portable]
[--dossier] [--verify]``.

Times each stage of ``run_draw`` (seed, entity scores + strata + selection, inspector
matching) with the C extension ``suiji_native`` when it is built (``--pure``: the pure-Python
path; ``--portable``: the extension without the SHA instructions) and, on request, building the dossier and the independent verifier. The pool
and inspectors are built before the clock starts: the service reads them from the
frozen pool and the inspector snapshot. Prints a table and writes
``bench/results/draw_algorithm.json``.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

from app.draws import algorithm  # noqa: E402
from app.draws.dossier import build_dossier  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CLASS_WEIGHTS = {"A": 15, "B": 55, "C": 20, "D": 5, "U": 5}
QUALIFICATIONS = ["food", "drug", "special_equipment", "price", "advertising", "quality"]


def make_pool(n: int, stations: int, rng: random.Random) -> list[algorithm.PoolEntity]:
    classes = rng.choices(list(CLASS_WEIGHTS), weights=list(CLASS_WEIGHTS.values()), k=n)
    codes = rng.sample(range(10**9), n)
    return [
        algorithm.PoolEntity(uscc=f"91140500{code:09d}X", credit_class=cls, station=f"S{code % stations:02d}")
        for code, cls in zip(codes, classes)
    ]


def make_inspectors(n: int, stations: int, rng: random.Random, pool: list[algorithm.PoolEntity]) -> list[algorithm.InspectorCandidate]:
    people = []
    for i in range(n):
        quals = tuple(sorted(rng.sample(QUALIFICATIONS, rng.randint(1, 3))))
        conflicts = frozenset(e.uscc for e in rng.sample(pool, 3))  # a few declared interests each
        people.append(algorithm.InspectorCandidate(f"14050{i:07d}", f"S{i % stations:02d}", quals, rng.randint(0, 5), conflicts))
    return people


def bare_hmac_ns(n: int = 300_000) -> float:
    """Nanoseconds per HMAC of the tightest single-process loop: the machine's speed right now.

    The machine is shared; comparing stage times with this figure tells a slow run from a busy host.
    """
    inner, outer = algorithm._hmac_states(bytes(32))
    inner.update(b"inspector:BENCH-2026-001:91140500000000000X:")
    copy_inner, copy_outer = inner.copy, outer.copy
    certs = [f"14050{i:07d}".encode() for i in range(2000)]
    t = time.process_time()
    for k in range(n // len(certs)):
        for cert in certs:
            h = copy_inner()
            h.update(cert)
            o = copy_outer()
            o.update(h.digest())
            o.digest()
    return (time.process_time() - t) / (n // len(certs) * len(certs)) * 1e9


def cpu_seconds() -> float:
    """User + system time of this process and of its finished worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--ratio", default="0.03")
    parser.add_argument("--inspectors", type=int, default=2000)
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--team-size", type=int, default=2)
    parser.add_argument("--case-cap", type=int, default=1000)
    parser.add_argument("--cross-station", action="store_true")
    parser.add_argument("--qualification", action="append", default=[])
    parser.add_argument("--workers", type=int, default=None, help="default: chosen by size")
    parser.add_argument("--pure", action="store_true", help="pure Python, even when suiji_native is built")
    parser.add_argument("--portable", action="store_true", help="suiji_native without SHA-NI")
    parser.add_argument("--dossier", action="store_true", help="also time building the dossier")
    parser.add_argument("--verify", action="store_true", help="also time tools/verify_draw.py (slow)")
    args = parser.parse_args()
    if args.pure:
        algorithm._native = None
    elif args.portable and algorithm._native is not None:
        algorithm._native.set_backend("portable")
    native = algorithm._native
    path = f"C extension ({native.backend()})" if native is not None else "pure Python"

    rng = random.Random(20261123)
    t = time.perf_counter()
    pool = make_pool(args.pool, args.stations, rng)
    inspectors = make_inspectors(args.inspectors, args.stations, rng, pool)
    setup_s = time.perf_counter() - t
    quota_rule = algorithm.QuotaRule(kind="ratio", ratios={c: args.ratio for c in CLASS_WEIGHTS})
    team_rule = algorithm.TeamRule(args.team_size, tuple(args.qualification), args.cross_station, args.case_cap)
    server_seed = bytes.fromhex("5a" * 32)
    witness = "纪检监察室 2026-11-23 第一轮"

    timings: dict[str, float] = {}
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    seed = algorithm.derive_seed(server_seed, witness)
    t1 = time.perf_counter()
    strata, selected = algorithm.select_entities(seed, "BENCH-2026-001", pool, quota_rule, workers=args.workers)
    t2 = time.perf_counter()
    teams = algorithm.assign_teams(seed, "BENCH-2026-001", selected, pool, inspectors, team_rule, workers=args.workers)
    t3 = time.perf_counter()
    timings["entity scores, strata, selection"] = t2 - t1
    timings["inspector matching"] = t3 - t2
    timings["whole draw"] = t3 - t0
    timings["whole draw, CPU seconds (all processes)"] = cpu_seconds() - cpu0
    dossier = None
    if args.dossier or args.verify:
        t = time.perf_counter()
        dossier = build_dossier("bench", "BENCH-2026-001", server_seed, witness, pool, quota_rule, strata, selected,
                                team_rule, inspectors, teams)
        timings["build dossier"] = time.perf_counter() - t
    if args.verify:
        spec = importlib.util.spec_from_file_location("verify_draw", ROOT / "tools" / "verify_draw.py")
        verifier = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(verifier)  # type: ignore[union-attr]
        t = time.perf_counter()
        problems = verifier.verify(dossier)
        timings["verify_draw.verify"] = time.perf_counter() - t
        if problems:
            raise SystemExit("verifier disagrees:\n" + "\n".join(problems[:20]))

    pairs = len(selected) * args.inspectors
    bare = bare_hmac_ns()
    print(f"pool {args.pool:,}, selected {len(selected):,}, inspectors {args.inspectors:,}, team size {args.team_size}, "
          f"cpus {os.cpu_count()}, workers {args.workers or 'auto'}, {path} (setup {setup_s:.1f} s, not timed)")
    print(f"strata: {', '.join(f'{s.name} {s.quota}/{s.size}' for s in strata)}")
    print("| stage | seconds |\n|---|---|")
    for stage, seconds in timings.items():
        print(f"| {stage} | {seconds:.2f} |")
    print(f"inspector matching: {pairs:,} scores, {timings['inspector matching'] / pairs * 1e9:.0f} ns each (wall); "
          f"bare single-core HMAC loop now: {bare:.0f} ns")
    timings["bare HMAC ns (calibration)"] = bare
    out = ROOT / "bench" / "results" / "draw_algorithm.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "path": path, "selected": len(selected), "timings": timings}, indent=2))


if __name__ == "__main__":
    main()
