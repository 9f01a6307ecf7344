"""suiji-draw-v1 is fair: over many seeds every entity of a stratum is drawn equally often.

Chi-square goodness-of-fit tests at the 0.001 level, p-values computed here (no
scipy) from the regularized upper incomplete gamma function. The seeds are fixed,
so the outcome is reproducible: a pass is not luck that can turn on the next run.
"""
from __future__ import annotations

import hashlib
import math
from collections import Counter

import pytest

from app.draws import algorithm
from app.draws.algorithm import InspectorCandidate, PoolEntity, QuotaRule, TeamRule

DRAWS = 2000
LEVEL = 0.001
TASK = "STAT-2026-01"
CLASS_SIZES = {"A": 40, "B": 60, "C": 50, "D": 30, "U": 20}
RATIOS = {"A": "0.05", "B": "0.05", "C": "0.10", "D": "0.30", "U": "0.10"}  # 2+3+5+9+2 = 21 of 200


# --- the chi-square distribution, from first principles -------------------------------------


def gamma_q(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a).

    Series for P = 1 − Q when x < a + 1, else Lentz's continued fraction for Q
    (Numerical Recipes §6.2): each converges fast in its own region.
    """
    if x <= 0:
        return 1.0
    log_prefactor = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = 0
        while abs(term) > abs(total) * 1e-16:
            n += 1
            term *= x / (a + n)
            total += term
        return max(0.0, 1.0 - total * math.exp(log_prefactor))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return math.exp(log_prefactor) * h


def chi2_sf(statistic: float, df: int) -> float:
    """P(χ²_df ≥ statistic)."""
    return gamma_q(df / 2, statistic / 2)


def selection_chi2(counts: list[int], draws: int, quota: int) -> tuple[float, int]:
    """Pearson's statistic for "each of s members drawn with probability quota/s", and its df.

    Each draw takes ``quota`` members without replacement, so the counts are not
    multinomial: their covariance is that of a multinomial scaled by s(1 − q/s)/(s − 1).
    Dividing Pearson's X² by that factor, i.e. multiplying by (s − 1)/(s − q), gives a
    statistic that is χ² with s − 1 degrees of freedom (for q = 1 it is the usual one).
    """
    s = len(counts)
    expected = draws * quota / s
    x2 = sum((c - expected) ** 2 / expected for c in counts)
    return x2 * (s - 1) / (s - quota), s - 1


@pytest.mark.parametrize(
    ("statistic", "df", "p"),
    [(3.841458820694124, 1, 0.05), (6.6348966010212145, 1, 0.01), (23.209251158954356, 10, 0.01),
     (124.34211340400407, 100, 0.05), (0.0, 5, 1.0), (1.0, 2, math.exp(-0.5)), (40.0, 2, math.exp(-20.0)),
     (16.918977604620448, 9, 0.05)],
)
def test_chi2_survival_function(statistic: float, df: int, p: float) -> None:
    assert chi2_sf(statistic, df) == pytest.approx(p, rel=2e-3, abs=1e-12)


@pytest.mark.parametrize("df", [2, 10, 40, 200])
@pytest.mark.parametrize("statistic", [0.5, 8.0, 39.0, 150.0, 260.0])
def test_chi2_even_df_matches_closed_form(statistic: float, df: int) -> None:
    """For even df = 2k, Q(k, y) = e^(−y) Σ_{j<k} y^j / j! exactly."""
    y = statistic / 2
    closed = math.fsum(math.exp(-y + j * math.log(y) - math.lgamma(j + 1)) for j in range(df // 2))
    assert chi2_sf(statistic, df) == pytest.approx(closed, rel=1e-9, abs=1e-300)


def test_the_test_can_fail() -> None:
    """A selector favouring one member by half is caught at the 0.001 level."""
    fair = [200] * 20
    assert chi2_sf(*selection_chi2(fair, 2000, 2)) > 0.99
    biased = [300] + [195] * 19  # one entity drawn 1.5 times as often as the others
    assert chi2_sf(*selection_chi2(biased, 2000, 2)) < LEVEL


# --- the draw --------------------------------------------------------------------------------


def directory() -> tuple[list[PoolEntity], list[PoolEntity]]:
    """200 pool entities in five classes, and 50 directory entities left out of the pool."""
    pool, n = [], 0
    for cls, size in CLASS_SIZES.items():
        for _ in range(size):
            pool.append(PoolEntity(f"91140500{n:09d}X", cls, f"S{n % 4}"))
            n += 1
    excluded = [PoolEntity(f"91140500{n + k:09d}X", "D", "S0") for k in range(50)]
    return pool, excluded


def seed_of(draw: int) -> bytes:
    server_seed = hashlib.sha256(f"statistics server seed {draw}".encode()).digest()
    return algorithm.derive_seed(server_seed, f"witness {draw}")


def test_entities_are_drawn_uniformly_within_each_stratum() -> None:
    pool, excluded = directory()
    rule = QuotaRule("ratio", ratios=RATIOS)
    class_of = {e.uscc: e.credit_class for e in pool}
    out_of_pool = {e.uscc for e in excluded}
    counts: Counter[str] = Counter()
    quotas: dict[str, int] = {}
    for draw in range(DRAWS):
        strata, selected = algorithm.select_entities(seed_of(draw), TASK, pool, rule)
        quotas = {s.name: s.quota for s in strata}
        drawn_per_class = Counter(class_of[u] for u in selected if u in class_of)
        assert drawn_per_class == Counter({name: q for name, q in quotas.items() if q})  # exact quotas, every draw
        assert not out_of_pool & set(selected)
        assert len(set(selected)) == len(selected)
        counts.update(selected)
    assert quotas == {"A": 2, "B": 3, "C": 5, "D": 9, "U": 2}
    for cls, quota in quotas.items():
        members = [e.uscc for e in pool if e.credit_class == cls]
        statistic, df = selection_chi2([counts[u] for u in members], DRAWS, quota)
        p = chi2_sf(statistic, df)
        assert p > LEVEL, f"class {cls}: chi-square {statistic:.1f} on {df} df, p = {p:.2g}"


def test_inspectors_are_matched_uniformly() -> None:
    """With no binding rule, each team is a uniform pair: every inspector serves equally often,
    and the first-chosen member is uniform over the inspectors."""
    pool, _ = directory()
    people = [InspectorCandidate(f"1405{i:04d}", "", (), 0, frozenset()) for i in range(20)]
    team_rule = TeamRule(2, (), False, 10_000)
    quota_rule = QuotaRule("ratio", ratios=RATIOS)
    members: Counter[str] = Counter()
    firsts: Counter[str] = Counter()
    teams_total = 0
    for draw in range(DRAWS // 2):  # 1,000 draws × 21 entities = 21,000 teams
        seed = seed_of(draw)
        _, selected = algorithm.select_entities(seed, TASK, pool, quota_rule)
        teams = algorithm.assign_teams(seed, TASK, selected, pool, people, team_rule, workers=1)
        for team in teams.values():
            members.update(team)
            firsts[team[0]] += 1
            teams_total += 1
    certs = [p.certificate_no for p in people]
    statistic, df = selection_chi2([members[c] for c in certs], teams_total, 2)
    assert chi2_sf(statistic, df) > LEVEL, f"membership: chi-square {statistic:.1f} on {df} df"
    statistic, df = selection_chi2([firsts[c] for c in certs], teams_total, 1)
    assert chi2_sf(statistic, df) > LEVEL, f"first member: chi-square {statistic:.1f} on {df} df"
