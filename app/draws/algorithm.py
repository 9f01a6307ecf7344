"""suiji-draw-v1: the verifiable draw of entities and the matching of inspectors.

Pure functions only (no Flask, no database): the same inputs always give the
same draw, so anyone holding the dossier can re-run it (``tools/verify_draw.py``
is an independent re-implementation from the same specification).

The algorithm, in short:

1. When the draw is prepared, ``server_seed`` is 32 random bytes; its SHA-256
   (``commitment``) is published before the sitting, so the server cannot change
   the seed afterwards.
2. At the sitting a witness types ``witness_entropy``; the draw's ``seed`` is
   SHA-256(server_seed ‖ UTF-8 of witness_entropy). Neither side alone controls it.
3. Every pool entity gets a score, HMAC-SHA256(seed, "entity:<task>:<uscc>");
   per credit class (stratum) the ``quota`` lowest scores are selected, quota =
   ceil(n × ratio) with the ratio as an exact decimal (or a fixed count over one
   stratum "ALL"), never more than n.
4. Selected entities, in ascending score order, are matched to inspectors by
   HMAC-SHA256(seed, "inspector:<task>:<uscc>:<certificate_no>"): first the
   lowest-scoring eligible holder of each required qualification not yet in the
   team, then the lowest-scoring eligible others up to the team size. Eligible:
   no declared conflict, not of the entity's station on cross-station tasks,
   and below the case cap (open cases plus cases given earlier in this draw).

Decisions where the specification is silent (the verifier follows the same):

* Strata list only the credit classes present in the pool; a class present in
  the pool but absent from ``ratios`` is a stratum with quota 0 (never drawn).
  A count rule always yields the single stratum "ALL", even for an empty pool.
* Ratios must lie in [0, 1]; a count may exceed the pool and is capped at n.
* An empty station never matches: an entity or inspector without a recorded
  station is not "of the same station" as anybody.
* Team size below 2 is rejected (行政处罚法 Art. 42: at least two inspectors).
  Required qualifications are filled first, so a team can be larger than
  ``team_size`` when each qualification needs its own holder.
* ``assign_teams`` processes ``selected`` in ascending entity score (ties by
  USCC) whatever order it is given in.
* When inspectors run short, matching continues for the remaining entities with
  whatever partial team was possible (so every shortfall is reported at once),
  then ``InsufficientInspectors`` is raised: nothing is returned.
* Scores are compared as raw digests: byte order equals the order of the
  lowercase hex strings the specification speaks of.

Speed: the cost is one HMAC per pool entity plus one per (selected entity,
eligible inspector): 1M + 60M for a 3% draw from a million entities with 2,000
inspectors. Scores are computed from HMAC states that have already absorbed the
key and the message prefix (RFC 2104 ipad/opad states, copied per message; about
0.5 µs per HMAC in CPython, mostly call overhead). Entity selection keeps only
scores under a generous per-stratum threshold (rescanning in the practically
impossible case that too few pass). Each selected entity keeps only its
lowest-scoring inspectors, those under a score limit set for a few dozen (a
short list, always a prefix of the exact ranking); the case-cap bookkeeping,
which is sequential, walks the short lists in matching order and ranks an entity
in full when caps exhausted its list.

When the C extension ``suiji_native`` (native/, built by ``make setup``) is
installed, the HMACs are computed there (its own SHA-256, with the x86 SHA
instructions when the CPU has them: about 0.1 µs per HMAC) with the GIL released,
and large matchings run in threads. Without it, or with ``SUIJI_DRAW_NATIVE=0``,
the pure-Python code below does the same in worker processes for large draws.
None of this changes a result: tests compare both paths with each other, with a
literal reading of the specification and with the independent verifier.
"""
from __future__ import annotations

import hashlib
import heapq
import hmac
import math
import multiprocessing
import os
import secrets
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation, localcontext
from typing import Any

ALGORITHM = "suiji-draw-v1"
CREDIT_CLASSES = ("A", "B", "C", "D", "U")
ALL_STRATUM = "ALL"
MIN_TEAM_SIZE = 2

# A short list aims at team size + required qualifications + margin inspectors, plus
# 8 standard deviations and a slack: the case cap then rarely exhausts it (when it
# does, the entity is ranked in full; the result is the same).
_SHORTLIST_MARGIN = 6
_SHORTLIST_SLACK = 16
# Below this many HMACs a stage runs in this process: starting workers costs more.
_PARALLEL_MIN_HMACS = 1_500_000
_MAX_WORKERS = 8
_ENTITY_CHUNKS_PER_WORKER = 2
_INSPECTOR_CHUNK = 256  # entities per task sent to a worker while matching

# With the C extension: entities per call, and the size from which matching uses threads.
_NATIVE_CHUNK = 256
_NATIVE_PARALLEL_MIN_HMACS = 200_000

_NO_THRESHOLD = b"\xff" * 33  # above every 32-byte digest
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))

_NATIVE_API = 1


def _load_native() -> Any:
    """The C scores (``suiji_native``, see native/), or None: not built, another API, or SUIJI_DRAW_NATIVE=0."""
    if os.environ.get("SUIJI_DRAW_NATIVE", "").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        import suiji_native
    except ImportError:
        return None
    return suiji_native if getattr(suiji_native, "API_VERSION", None) == _NATIVE_API else None


# The module the HMACs are computed by, or None for pure Python (tests set it to compare both).
_native: Any = _load_native()


# --- errors ---------------------------------------------------------------------------------


class DrawError(Exception):
    """The draw cannot be run with these inputs."""


class InsufficientInspectors(DrawError):
    """Some selected entity cannot get a full, qualified team; the draw is void.

    ``shortfalls`` holds one dict per problem: ``uscc``; ``missing`` ("team_size"
    or "qualification"); ``qualification`` (or None); ``needed``; ``eligible`` (how
    many eligible inspectors, or eligible holders of the qualification, there were).
    """

    def __init__(self, shortfalls: list[dict[str, Any]]):
        self.shortfalls = shortfalls
        super().__init__(self._message())

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.shortfalls,))  # survives pickling (job queues, workers)

    def _message(self) -> str:
        shown = [_describe_shortfall(s) for s in self.shortfalls[:10]]
        entities = len({s["uscc"] for s in self.shortfalls})
        more = len(self.shortfalls) - len(shown)
        text = f"not enough eligible inspectors for {entities} selected entit{'y' if entities == 1 else 'ies'}: "
        return text + "; ".join(shown) + (f"; and {more} more" if more else "")


def _describe_shortfall(s: Mapping[str, Any]) -> str:
    if s["missing"] == "qualification":
        return f"{s['uscc']}: no eligible holder of qualification {s['qualification']!r}"
    return f"{s['uscc']}: team of {s['needed']} needed, {s['eligible']} eligible"


# --- inputs ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PoolEntity:
    """An entity of the frozen pool: its USCC, credit class at draw time and station."""

    uscc: str
    credit_class: str
    station: str


@dataclass(frozen=True, slots=True)
class PoolTable:
    """A pool as three parallel columns: entity ``i`` is (usccs[i], classes[i], stations[i]).

    The same pool as a sequence of ``PoolEntity``, without one object per entity: a
    frozen pool of a million entities thaws into three lists in a tenth of a second,
    where a million dataclass instances take seconds. Iterating yields ``PoolEntity``.
    """

    usccs: list[str]
    classes: list[str]
    stations: list[str]

    def __post_init__(self) -> None:
        if not len(self.usccs) == len(self.classes) == len(self.stations):
            raise DrawError("pool columns differ in length")

    def __len__(self) -> int:
        return len(self.usccs)

    def __iter__(self) -> Iterator[PoolEntity]:
        return map(PoolEntity, self.usccs, self.classes, self.stations)


@dataclass(frozen=True, slots=True)
class InspectorCandidate:
    """An active inspector of an inspecting department, as at the sitting."""

    certificate_no: str
    station: str
    qualifications: tuple[str, ...]
    open_cases: int
    conflicts: frozenset[str] = field(default_factory=frozenset)


def _exact_ratio(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError(f"ratio must be a decimal string, got {value!r}")
    try:
        # A float is read through its shortest repr ("0.03"), i.e. the decimal that was typed.
        ratio = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"ratio is not a decimal number: {value!r}") from exc
    if not ratio.is_finite() or ratio < 0 or ratio > 1:
        raise ValueError(f"ratio must lie between 0 and 1, got {value!r}")
    return ratio


@dataclass(frozen=True)
class QuotaRule:
    """How many entities a draw selects: ``kind`` "ratio" (per credit class) or "count"."""

    kind: str
    ratios: Mapping[str, str] | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if self.kind == "ratio":
            if self.ratios is None or self.count is not None:
                raise ValueError("a ratio rule has ratios and no count")
            clean: dict[str, str] = {}
            for cls in sorted(self.ratios):
                if cls not in CREDIT_CLASSES:
                    raise ValueError(f"unknown credit class {cls!r} in ratios")
                raw = self.ratios[cls]
                ratio = _exact_ratio(raw)
                clean[cls] = raw.strip() if isinstance(raw, str) else str(ratio)
            object.__setattr__(self, "ratios", clean)
        elif self.kind == "count":
            if self.ratios is not None or isinstance(self.count, bool) or not isinstance(self.count, int):
                raise ValueError("a count rule has an integer count and no ratios")
            if self.count < 0:
                raise ValueError("count must not be negative")
        else:
            raise ValueError(f"quota rule kind must be 'ratio' or 'count', got {self.kind!r}")

    def ratio_of(self, credit_class: str) -> Decimal | None:
        """The exact ratio of a class, or None when the class is not drawn."""
        assert self.ratios is not None
        raw = self.ratios.get(credit_class)
        return None if raw is None else _exact_ratio(raw)

    def to_json(self) -> dict[str, Any]:
        """The dossier form: ratios as decimal strings, classes sorted."""
        if self.kind == "count":
            return {"kind": "count", "count": self.count}
        assert self.ratios is not None
        return {"kind": "ratio", "ratios": dict(self.ratios)}


@dataclass(frozen=True)
class TeamRule:
    """How inspectors are matched to each selected entity."""

    team_size: int
    required_qualifications: tuple[str, ...]
    cross_station: bool
    case_cap: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "required_qualifications", tuple(self.required_qualifications))
        if isinstance(self.team_size, bool) or not isinstance(self.team_size, int) or self.team_size < MIN_TEAM_SIZE:
            raise ValueError(f"team size must be at least {MIN_TEAM_SIZE} (行政处罚法 Art. 42)")
        if isinstance(self.case_cap, bool) or not isinstance(self.case_cap, int) or self.case_cap < 0:
            raise ValueError("case cap must be a non-negative integer")
        if len(set(self.required_qualifications)) != len(self.required_qualifications):
            raise ValueError("required qualifications must not repeat")

    def to_json(self) -> dict[str, Any]:
        """The dossier form."""
        return {
            "team_size": self.team_size,
            "required_qualifications": list(self.required_qualifications),
            "cross_station": bool(self.cross_station),
            "case_cap": self.case_cap,
        }


@dataclass(frozen=True, slots=True)
class Stratum:
    """One stratum of the pool: a credit class (or "ALL"), its size and quota."""

    name: str
    size: int
    quota: int


@dataclass(frozen=True)
class DrawResult:
    """What a draw produces: strata, selected USCCs (ascending score) and teams."""

    strata: list[Stratum]
    selected: list[str]
    teams: dict[str, list[str]]


# --- seeds and scores -----------------------------------------------------------------------


def new_server_seed() -> bytes:
    """32 bytes from the operating system's CSPRNG, drawn when the draw is prepared."""
    return secrets.token_bytes(32)


def commitment_of(server_seed: bytes) -> str:
    """The published commitment: lowercase hex SHA-256 of the server seed."""
    return hashlib.sha256(server_seed).hexdigest()


def derive_seed(server_seed: bytes, witness_entropy: str) -> bytes:
    """SHA-256(server_seed ‖ UTF-8 of witness_entropy), 32 raw bytes.

    The entropy must not be blank, but it is hashed exactly as typed (unstripped).
    """
    if not isinstance(server_seed, bytes) or len(server_seed) != 32:
        raise DrawError("the server seed must be 32 bytes")
    if not isinstance(witness_entropy, str) or not witness_entropy.strip():
        raise DrawError("the witness must enter some entropy")
    return hashlib.sha256(server_seed + witness_entropy.encode("utf-8")).digest()


def entity_score(seed: bytes, task_code: str, uscc: str) -> str:
    """Lowercase hex HMAC-SHA256(seed, "entity:<task_code>:<uscc>")."""
    return hmac.new(seed, f"entity:{task_code}:{uscc}".encode("utf-8"), hashlib.sha256).hexdigest()


def _entity_digests(seed: bytes, task_code: str, usccs: Sequence[str]) -> list[bytes]:
    """Raw entity-score digests of many entities (in C when the extension is built)."""
    if _native is not None:
        digests = _native.hmac_scores(seed, f"entity:{task_code}:".encode("utf-8"), list(usccs))
        return [digests[32 * k : 32 * k + 32] for k in range(len(usccs))]
    inner, outer = _hmac_states(seed)
    inner.update(f"entity:{task_code}:".encode("utf-8"))
    result = []
    for uscc in usccs:
        h = inner.copy()
        h.update(uscc.encode("utf-8"))
        o = outer.copy()
        o.update(h.digest())
        result.append(o.digest())
    return result


def entity_scores(seed: bytes, task_code: str, usccs: Sequence[str]) -> list[str]:
    """``entity_score`` of many entities at once."""
    return [digest.hex() for digest in _entity_digests(seed, task_code, usccs)]


def inspector_score(seed: bytes, task_code: str, uscc: str, certificate_no: str) -> str:
    """Lowercase hex HMAC-SHA256(seed, "inspector:<task_code>:<uscc>:<certificate_no>")."""
    message = f"inspector:{task_code}:{uscc}:{certificate_no}".encode("utf-8")
    return hmac.new(seed, message, hashlib.sha256).hexdigest()


def pool_digest(usccs: Iterable[str]) -> str:
    """Lowercase hex SHA-256 of the pool's USCCs sorted ascending, each followed by a newline."""
    digest = hashlib.sha256()
    for uscc in sorted(usccs):
        digest.update(uscc.encode("utf-8") + b"\n")
    return digest.hexdigest()


def _hmac_states(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states of HMAC (RFC 2104) that have absorbed key ⊕ ipad and key ⊕ opad.

    HMAC(k, m) = H(k⊕opad ‖ H(k⊕ipad ‖ m)). Copying these two states per message saves
    two of the ~five compressions, and a state can further absorb a common prefix of m.
    """
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


# --- strata and entity selection ------------------------------------------------------------


def _pool_columns(pool: Iterable[PoolEntity]) -> tuple[list[str], list[str], Counter[str]]:
    """USCCs, credit classes and class sizes of a pool, refusing unknown classes and duplicates."""
    if isinstance(pool, PoolTable):
        usccs, classes = pool.usccs, pool.classes
    else:
        entities = pool if isinstance(pool, (list, tuple)) else list(pool)
        usccs = [e.uscc for e in entities]
        classes = [e.credit_class for e in entities]
    counts = Counter(classes)
    unknown = set(counts) - set(CREDIT_CLASSES)
    if unknown:
        bad = next(u for u, c in zip(usccs, classes) if c in unknown)
        raise DrawError(f"{bad}: unknown credit class {next(iter(unknown))!r}")
    if "\n".join(usccs).count("\n") != max(0, len(usccs) - 1) or not all(usccs):
        raise DrawError("a USCC is empty or contains a line break")  # the pool digest separates lines
    if len(set(usccs)) != len(usccs):
        seen: set[str] = set()
        twice = next(u for u in usccs if u in seen or seen.add(u))  # type: ignore[func-returns-value]
        raise DrawError(f"{twice} appears twice in the pool")
    return usccs, classes, counts


def _quota(size: int, ratio: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 100  # n × ratio exactly: no rounding before the ceiling
        quota = int((Decimal(size) * ratio).to_integral_value(rounding=ROUND_CEILING))
    return min(quota, size)


def _strata_for(counts: Mapping[str, int], quota_rule: QuotaRule) -> list[Stratum]:
    if quota_rule.kind == "count":
        size = sum(counts.values())
        return [Stratum(ALL_STRATUM, size, min(int(quota_rule.count or 0), size))]
    strata = []
    for cls in sorted(counts):
        ratio = quota_rule.ratio_of(cls)
        strata.append(Stratum(cls, counts[cls], 0 if ratio is None else _quota(counts[cls], ratio)))
    return strata


def compute_strata(pool: Iterable[PoolEntity], quota_rule: QuotaRule) -> list[Stratum]:
    """Strata sorted by name, each with its size and quota (see the module docstring)."""
    return _strata_for(_pool_columns(pool)[2], quota_rule)


def _thresholds(strata: Sequence[Stratum]) -> dict[str, bytes]:
    """Per stratum, a score below which its ``quota`` lowest almost surely lie.

    Scores are uniform, so about quota/size of a stratum scores below quota/size × 2^256;
    a margin of 8 standard deviations makes a shortfall practically impossible, and the
    caller still checks (and rescans without thresholds) so the result stays exact. Only
    entities under the threshold are kept: no million tuples, no million-item heap.
    """
    limits = {}
    for s in strata:
        if s.quota:
            wanted = s.quota + 8 * math.isqrt(s.quota) + 16
            limits[s.name] = _NO_THRESHOLD if wanted >= s.size else ((wanted << 256) // s.size).to_bytes(32, "big")
    return limits


def _lowest_entities(
    seed: bytes, task_code: str, usccs: Sequence[str], strata: Sequence[str], limits: Mapping[str, bytes]
) -> dict[str, list[tuple[bytes, str]]]:
    """Per stratum, every (score digest, USCC) of these entities below the stratum's limit.

    ``strata[i]`` names the stratum of ``usccs[i]``; strata without a limit (quota 0)
    are not scored at all. Chunks of a pool can be scanned apart and merged.
    """
    kept: dict[str, list[tuple[bytes, str]]] = {name: [] for name in limits}
    if _native is not None:
        prefix = f"entity:{task_code}:".encode("utf-8")
        for i, digest in _native.scores_below(seed, prefix, usccs, [limits.get(name) for name in strata]):
            kept[strata[i]].append((digest, usccs[i]))
        return kept
    inner, outer = _hmac_states(seed)
    inner.update(f"entity:{task_code}:".encode("utf-8"))
    copy_inner, copy_outer = inner.copy, outer.copy
    for uscc, stratum in zip(usccs, strata):
        limit = limits.get(stratum)
        if limit is None:
            continue
        h = copy_inner()
        h.update(uscc.encode("utf-8"))
        o = copy_outer()
        o.update(h.digest())
        digest = o.digest()
        if digest < limit:
            kept[stratum].append((digest, uscc))
    return kept


def _entity_chunk_worker(args: tuple[bytes, str, str, str, dict[str, bytes]]) -> dict[str, list[tuple[bytes, str]]]:
    seed, task_code, joined_usccs, joined_strata, limits = args
    return _lowest_entities(seed, task_code, joined_usccs.split("\n"), joined_strata.split("\n"), limits)


def select_entities(
    seed: bytes, task_code: str, pool: Iterable[PoolEntity], quota_rule: QuotaRule, *, workers: int | None = None
) -> tuple[list[Stratum], list[str]]:
    """The strata and the selected USCCs in ascending entity score (ties by USCC).

    ``workers``: None chooses by size, 1 scores in this process, more uses that many processes
    (pure Python only: with the C extension the scores take a fraction of a second anyway).
    """
    usccs, classes, counts = _pool_columns(pool)
    strata = _strata_for(counts, quota_rule)
    names = [ALL_STRATUM] * len(usccs) if quota_rule.kind == "count" else classes
    limits = _thresholds(strata)
    kept = _scan_entities(seed, task_code, usccs, names, limits, workers)
    quotas = {s.name: s.quota for s in strata}
    if any(len(kept[name]) < quotas[name] for name in limits):
        kept = _scan_entities(seed, task_code, usccs, names, {name: _NO_THRESHOLD for name in limits}, workers)
    chosen = sorted(item for name, items in kept.items() for item in heapq.nsmallest(quotas[name], items))
    return strata, [uscc for _, uscc in chosen]


def _scan_entities(
    seed: bytes, task_code: str, usccs: list[str], names: list[str], limits: dict[str, bytes], workers: int | None
) -> dict[str, list[tuple[bytes, str]]]:
    """``_lowest_entities`` over the whole pool, in worker processes when worthwhile."""
    n_workers = 1 if _native is not None else _workers_for(workers, len(usccs))
    if n_workers > 1 and len(usccs) > 1:
        step = math.ceil(len(usccs) / (n_workers * _ENTITY_CHUNKS_PER_WORKER))
        # Joined strings pickle far faster than a million small tuples.
        jobs = [
            (seed, task_code, "\n".join(usccs[i : i + step]), "\n".join(names[i : i + step]), limits)
            for i in range(0, len(usccs), step)
        ]
        merged: dict[str, list[tuple[bytes, str]]] = {name: [] for name in limits}
        try:
            for part in _parallel_map(_entity_chunk_worker, jobs, n_workers):
                for name, items in part.items():
                    merged[name] += items
            return merged
        except _NO_WORKERS:
            pass  # workers could not start: scan here instead
    return _lowest_entities(seed, task_code, usccs, names, limits)


# --- inspector eligibility ------------------------------------------------------------------


def _same_station(a: str, b: str) -> bool:
    return bool(a) and a == b  # an unrecorded station matches nobody


def eligibility(entity: PoolEntity, inspector: InspectorCandidate, rule: TeamRule, load: int) -> tuple[bool, str]:
    """Whether ``inspector`` may join ``entity``'s team, and why (first failing rule).

    ``load`` is the inspector's case load at that moment: open cases plus cases
    given earlier in the same draw. Reasons: "eligible", "conflict",
    "same_station", "case_cap".
    """
    if entity.uscc in inspector.conflicts:
        return False, "conflict"
    if rule.cross_station and _same_station(entity.station, inspector.station):
        return False, "same_station"
    if load >= rule.case_cap:
        return False, "case_cap"
    return True, "eligible"


# --- team matching --------------------------------------------------------------------------


@dataclass(slots=True)
class _Ranking:
    """An entity's statically eligible inspectors (indices), lowest scores first.

    ``top`` is a prefix of the whole ranking (every inspector scoring below a limit),
    ``by_qual[r]`` the holders of the r-th required qualification within it; ``complete``
    says whether the prefix is the whole list (then running out is a real shortfall).
    """

    top: list[int]
    by_qual: list[list[int]]
    complete: bool


class _Matcher:
    """Scores an entity's inspectors; holds what that needs, in a form cheap to ship to workers."""

    def __init__(
        self,
        seed: bytes,
        task_code: str,
        certs: list[str],
        stations: list[str],
        holds: list[list[bool]],
        cross_station: bool,
        shortlist: int | None,
    ):
        self.seed, self.task_code = seed, task_code
        self.certs = [c.encode("utf-8") for c in certs]
        self.index = {c: i for i, c in enumerate(self.certs)}
        self.stations = stations
        self.holds = holds  # holds[r][i]: inspector i holds the r-th required qualification
        self.cross_station = cross_station
        self.shortlist = shortlist
        self.limit = self._limit(shortlist)
        self.inner, self.outer = _hmac_states(seed)
        self._groups: dict[str, tuple[list[int], list[bytes]]] = {}
        self._masks: dict[str, bytes] = {}

    def _limit(self, shortlist: int | None) -> bytes:
        """The score under which an entity's short list is kept.

        Scores are uniform, so below wanted/n × 2^256 lie about ``wanted`` of n inspectors;
        n is the smallest group a list must cover (all, or the holders of a required
        qualification), and 8 standard deviations plus a slack make a too-short list rare.
        A too-short list is still only a prefix of the exact ranking: ``_pick_team`` says
        when it is not enough, and the entity is then ranked in full.
        """
        if shortlist is None:
            return _NO_THRESHOLD
        wanted = max(0, shortlist) + 8 * math.isqrt(max(0, shortlist)) + _SHORTLIST_SLACK
        groups = [len(self.certs)] + [sum(h) for h in self.holds if any(h)]
        smallest = min(groups)
        return _NO_THRESHOLD if wanted >= smallest else ((wanted << 256) // smallest).to_bytes(32, "big")

    def __reduce__(self) -> tuple[Any, ...]:
        # Hash states do not pickle; workers rebuild them from the seed.
        args = (self.seed, self.task_code, [c.decode("utf-8") for c in self.certs], self.stations, self.holds,
                self.cross_station, self.shortlist)
        return (_Matcher, args)

    def _group(self, station: str) -> tuple[list[int], list[bytes]]:
        """Inspectors not excluded by the station rule, as (indices, encoded certificates)."""
        key = station if self.cross_station and station else ""
        group = self._groups.get(key)
        if group is None:
            idx = [i for i, s in enumerate(self.stations) if not (key and s == key)]
            group = self._groups[key] = (idx, [self.certs[i] for i in idx])
        return group

    def _mask(self, station: str, conflicted: Sequence[int]) -> bytes | None:
        """For the C extension: a byte per inspector, nonzero when not statically eligible (None: all are)."""
        key = station if self.cross_station and station else ""
        base = None
        if key:
            base = self._masks.get(key)
            if base is None:
                base = self._masks[key] = bytes(s == key for s in self.stations)
        if not conflicted:
            return base
        mask = bytearray(base or bytes(len(self.certs)))
        for i in conflicted:
            mask[i] = 1
        return bytes(mask)

    def rank_many(self, jobs: Sequence[tuple[str, str, Sequence[int]]], full: bool = False) -> list[_Ranking]:
        """``rank`` of each (uscc, station, conflicted); with the C extension in one call without the GIL."""
        if _native is None:
            return [self.rank(uscc, station, conflicted, full) for uscc, station, conflicted in jobs]
        limit = _NO_THRESHOLD if full else self.limit
        complete = limit == _NO_THRESHOLD
        # Indices follow the certificate numbers' order, so C's ties by index are ties by certificate.
        tops = _native.rank_inspectors(
            self.seed,
            [f"inspector:{self.task_code}:{uscc}:" for uscc, _, _ in jobs],
            self.certs,
            None if complete else limit,
            [self._mask(station, conflicted) for _, station, conflicted in jobs],
        )
        return [_Ranking(top, [[i for i in top if holds[i]] for holds in self.holds], complete) for top in tops]

    def rank(self, uscc: str, station: str, conflicted: Sequence[int], full: bool = False) -> _Ranking:
        """Score the entity's statically eligible inspectors; keep those under the limit, sorted."""
        if _native is not None:
            return self.rank_many([(uscc, station, conflicted)], full)[0]
        _, certs = self._group(station)
        if conflicted:
            banned = {self.certs[i] for i in conflicted}
            certs = [c for c in certs if c not in banned]
        limit = _NO_THRESHOLD if full else self.limit
        h = self.inner.copy()
        h.update(f"inspector:{self.task_code}:{uscc}:".encode("utf-8"))
        copy_inner, copy_outer = h.copy, self.outer.copy
        kept: list[tuple[bytes, bytes]] = []
        keep = kept.append
        for cert in certs:  # the hot loop: one HMAC per statically eligible inspector
            i = copy_inner()
            i.update(cert)
            o = copy_outer()
            o.update(i.digest())
            digest = o.digest()
            if digest < limit:
                keep((digest, cert))
        # Equal scores (never seen with SHA-256) fall to the certificate number: UTF-8 byte
        # order is code point order, the order of the certificate numbers as strings.
        kept.sort()
        index = self.index
        top = [index[cert] for _, cert in kept]
        return _Ranking(top, [[i for i in top if holds[i]] for holds in self.holds], limit == _NO_THRESHOLD)


_WORKER_MATCHER: _Matcher | None = None


def _init_matcher_worker(matcher: _Matcher) -> None:
    global _WORKER_MATCHER
    _WORKER_MATCHER = matcher


def _rank_chunk_worker(chunk: list[tuple[str, str, tuple[int, ...]]]) -> list[_Ranking]:
    assert _WORKER_MATCHER is not None
    return [_WORKER_MATCHER.rank(uscc, station, conflicted) for uscc, station, conflicted in chunk]


class _Exhausted(Exception):
    """A short list ran out before the team was complete: rank the entity in full."""


def _pick_team(
    ranking: _Ranking, loads: list[int], cap: int, team_size: int, holds: list[list[bool]],
    required: Sequence[str], uscc: str,
) -> tuple[list[int], list[dict[str, Any]]]:
    """The team of one entity from its ranking and the current loads, and its shortfalls.

    Raises ``_Exhausted`` when a short list ran out before the answer was certain.
    """
    team: list[int] = []
    shortfalls: list[dict[str, Any]] = []
    for r, qualification in enumerate(required):
        if any(holds[r][m] for m in team):
            continue
        for i in ranking.by_qual[r]:
            if loads[i] < cap and i not in team:
                team.append(i)
                break
        else:
            if not ranking.complete:
                raise _Exhausted
            shortfalls.append({"uscc": uscc, "missing": "qualification", "qualification": qualification,
                               "needed": 1, "eligible": 0})
    if len(team) < team_size:
        for i in ranking.top:
            if loads[i] < cap and i not in team:
                team.append(i)
                if len(team) == team_size:
                    break
        else:
            if not ranking.complete:
                raise _Exhausted
            eligible = sum(1 for i in ranking.top if loads[i] < cap)
            shortfalls.append({"uscc": uscc, "missing": "team_size", "qualification": None,
                               "needed": team_size, "eligible": eligible})
    return team, shortfalls


def _entity_map(
    pool: Mapping[str, PoolEntity] | Sequence[PoolEntity] | PoolTable, wanted: set[str] | None = None
) -> Mapping[str, PoolEntity]:
    """The pool by USCC (only the ``wanted`` USCCs, when given: a million-entry dict costs 0.2 s)."""
    if isinstance(pool, Mapping):
        return pool
    if isinstance(pool, PoolTable):
        columns = zip(pool.usccs, pool.classes, pool.stations)
        return {u: PoolEntity(u, c, s) for u, c, s in columns if wanted is None or u in wanted}
    if wanted is not None:
        return {e.uscc: e for e in pool if e.uscc in wanted}
    return {e.uscc: e for e in pool}


def _ordered_selection(seed: bytes, task_code: str, selected: Iterable[str]) -> list[str]:
    """Selected USCCs in ascending entity score, ties by USCC (the matching order)."""
    usccs = list(selected)
    return [uscc for _, uscc in sorted(zip(_entity_digests(seed, task_code, usccs), usccs))]


def assign_teams(
    seed: bytes,
    task_code: str,
    selected: list[str],
    pool: Mapping[str, PoolEntity] | Sequence[PoolEntity] | PoolTable,
    inspectors: Sequence[InspectorCandidate],
    rule: TeamRule,
    *,
    workers: int | None = None,
) -> dict[str, list[str]]:
    """Match inspectors to every selected entity; {uscc: [certificate_no, ...]} in matching order.

    Members are listed in the order they were added. Raises ``InsufficientInspectors``
    (and returns nothing) when any entity cannot get a full, qualified team.
    ``workers``: None chooses by size, 1 scores in this thread, more uses that many threads
    (with the C extension) or processes (pure Python).
    """
    order = _ordered_selection(seed, task_code, selected)
    entities = _entity_map(pool, set(order))
    if len(set(order)) != len(order):
        raise DrawError("an entity is selected twice")
    missing = [u for u in order if u not in entities]
    if missing:
        raise DrawError(f"selected entities not in the pool: {', '.join(missing[:5])}")
    people = sorted(inspectors, key=lambda p: p.certificate_no)
    certs = [p.certificate_no for p in people]
    if len(set(certs)) != len(certs):
        raise DrawError("an inspector's certificate number appears twice")
    position = {u: k for k, u in enumerate(order)}
    conflicted: list[list[int]] = [[] for _ in order]
    for i, person in enumerate(people):
        for uscc in person.conflicts:
            k = position.get(uscc)
            if k is not None:
                conflicted[k].append(i)
    required = rule.required_qualifications
    holds = [[q in p.qualifications for p in people] for q in required]
    shortlist = rule.team_size + len(required) + _SHORTLIST_MARGIN
    matcher = _Matcher(seed, task_code, certs, [p.station for p in people], holds, rule.cross_station, shortlist)
    jobs = [(u, entities[u].station, tuple(conflicted[k])) for k, u in enumerate(order)]

    loads = [p.open_cases for p in people]
    teams: dict[str, list[str]] = {}
    shortfalls: list[dict[str, Any]] = []
    for (uscc, station, banned), ranking in zip(jobs, _rankings(matcher, jobs, workers)):
        try:
            team, short = _pick_team(ranking, loads, rule.case_cap, rule.team_size, holds, required, uscc)
        except _Exhausted:
            full = matcher.rank(uscc, station, banned, full=True)
            team, short = _pick_team(full, loads, rule.case_cap, rule.team_size, holds, required, uscc)
        shortfalls.extend(short)
        for i in team:
            loads[i] += 1
        teams[uscc] = [certs[i] for i in team]
    if shortfalls:
        raise InsufficientInspectors(shortfalls)
    return teams


def _rankings(
    matcher: _Matcher, jobs: list[tuple[str, str, tuple[int, ...]]], workers: int | None
) -> Iterator[_Ranking]:
    """Rankings of the entities in ``jobs`` order, from workers when worthwhile, else from here."""
    if _native is not None:
        yield from _native_rankings(matcher, jobs, workers)
        return
    done = 0
    n_workers = _workers_for(workers, len(jobs) * len(matcher.certs))
    if n_workers > 1 and len(jobs) > 1:
        chunk = max(1, min(_INSPECTOR_CHUNK, math.ceil(len(jobs) / n_workers)))
        chunks = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
        try:
            # In order: the sequential case-cap walk consumes chunk k while workers score the next ones.
            for part in _parallel_map(_rank_chunk_worker, chunks, n_workers, _init_matcher_worker, (matcher,)):
                for ranking in part:
                    done += 1
                    yield ranking
        except _NO_WORKERS:
            pass  # workers could not start or died: rank the rest here
    for uscc, station, banned in jobs[done:]:
        yield matcher.rank(uscc, station, banned)


def _native_rankings(
    matcher: _Matcher, jobs: list[tuple[str, str, tuple[int, ...]]], workers: int | None
) -> Iterator[_Ranking]:
    """``_rankings`` with the C extension: chunks of entities, in threads for large draws.

    The extension releases the GIL while hashing, so threads use every core; unlike
    worker processes they need no pickling and work in any host (web server, job worker).
    In order: the sequential case-cap walk consumes a chunk while the threads score the next.
    """
    chunks = [jobs[i : i + _NATIVE_CHUNK] for i in range(0, len(jobs), _NATIVE_CHUNK)]
    n_threads = _workers_for(workers, len(jobs) * len(matcher.certs), _NATIVE_PARALLEL_MIN_HMACS)
    if n_threads <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            yield from matcher.rank_many(chunk)
        return
    executor = ThreadPoolExecutor(min(n_threads, len(chunks)), thread_name_prefix="suiji-draw")
    try:
        for part in executor.map(matcher.rank_many, chunks):
            yield from part
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _workers_for(requested: int | None, hmacs: int, minimum: int = _PARALLEL_MIN_HMACS) -> int:
    if requested is not None:
        return max(1, requested)
    if hmacs < minimum:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_WORKERS))


# Workers that cannot start or that die: BrokenProcessPool; a daemonic process (e.g. a
# process-type job worker) may not have children: AssertionError; no processes left: OSError.
_NO_WORKERS = (BrokenProcessPool, AssertionError, OSError)


def _parallel_map(
    fn: Any, chunks: Sequence[Any], n: int, initializer: Any = None, initargs: tuple[Any, ...] = ()
) -> Iterator[Any]:
    """``fn`` over ``chunks`` in worker processes, results in order.

    A single-threaded process (a CLI, a job runner, the benchmark) forks its workers:
    fast, nothing re-imported. Forking a threaded process (a threaded web server) can
    copy a lock held by another thread, so there the workers come from a fork server
    that starts clean. Should workers fail to start (a fork-server child tripping over
    an unguarded ``__main__``, a daemonic parent), an error in ``_NO_WORKERS`` is raised
    instead of hanging, and callers compute in-process. Leaving early cancels the chunks
    not yet started.
    """
    if threading.active_count() == 1:
        ctx = multiprocessing.get_context("fork")
    else:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
    executor = ProcessPoolExecutor(n, mp_context=ctx, initializer=initializer, initargs=initargs)
    try:
        yield from executor.map(fn, chunks)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


# --- explaining, replaying, replacing -------------------------------------------------------


def loads_before(
    uscc: str, selected: Sequence[str], teams: Mapping[str, Sequence[str]], inspectors: Sequence[InspectorCandidate]
) -> dict[str, int]:
    """Each inspector's case load at the moment ``uscc`` was matched in a draw.

    Open cases plus the teams of the entities matched before it; ``selected`` must be
    in matching order (ascending score, as in the dossier).
    """
    loads = {p.certificate_no: p.open_cases for p in inspectors}
    for earlier in selected:
        if earlier == uscc:
            return loads
        for cert in teams.get(earlier, ()):
            if cert in loads:
                loads[cert] += 1
    raise DrawError(f"{uscc} was not selected in this draw")


def explain_entity(
    seed: bytes,
    task_code: str,
    entity: PoolEntity,
    inspectors: Sequence[InspectorCandidate],
    rule: TeamRule,
    loads_before: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Every inspector's score and eligibility for one entity, lowest score first.

    Each row: certificate_no, score (hex), load, eligible, reason (see ``eligibility``).
    ``loads_before`` maps certificate numbers to loads when the entity was matched
    (``loads_before(...)`` computes them); a missing entry means the open cases.
    """
    rows = []
    for person in inspectors:
        load = loads_before.get(person.certificate_no, person.open_cases)
        ok, reason = eligibility(entity, person, rule, load)
        rows.append({
            "certificate_no": person.certificate_no,
            "score": inspector_score(seed, task_code, entity.uscc, person.certificate_no),
            "load": load,
            "eligible": ok,
            "reason": reason,
        })
    rows.sort(key=lambda row: (row["score"], row["certificate_no"]))
    return rows


def explain_from_dossier(dossier: Mapping[str, Any], uscc: str) -> list[dict[str, Any]]:
    """``explain_entity`` for a selected entity of a stored dossier, as it stood when matched."""
    seed = derive_seed(bytes.fromhex(dossier["server_seed"]), dossier["witness_entropy"])
    row = next((e for e in dossier["pool"] if e["uscc"] == uscc), None)
    if row is None:
        raise DrawError(f"{uscc} is not in this draw's pool")
    entity = PoolEntity(row["uscc"], row["credit_class"], row["station"])
    inspectors = [
        InspectorCandidate(p["certificate_no"], p["station"], tuple(p["qualifications"]), p["open_cases"],
                           frozenset(p["conflicts"]))
        for p in dossier["inspectors"]
    ]
    raw = dossier["team_rule"]
    rule = TeamRule(raw["team_size"], tuple(raw["required_qualifications"]), raw["cross_station"], raw["case_cap"])
    loads = loads_before(uscc, dossier["selected"], dossier["teams"], inspectors)
    return explain_entity(seed, dossier["task_code"], entity, inspectors, rule, loads)


def replacement(
    seed: bytes,
    task_code: str,
    entity: PoolEntity,
    inspectors: Sequence[InspectorCandidate],
    rule: TeamRule,
    used: set[str],
    team: list[str],
    loads: Mapping[str, int],
) -> str | None:
    """The inspector who replaces a recused member, or None when nobody eligible is left.

    ``team``: the members who stay (without the one leaving); ``used``: every
    certificate number ever on this entity's team, including the one leaving.
    ``loads``: current loads by certificate number (missing: the open cases).
    The replacement is the lowest-scoring eligible inspector not yet used for this
    entity, except that when the leaver took with them the team's only holder of a
    required qualification, it is the lowest-scoring eligible, unused holder of the
    first such qualification (in the task's order), so the team stays qualified;
    None if there is no such holder.
    """
    excluded = set(used) | set(team)
    held = {q for person in inspectors if person.certificate_no in team for q in person.qualifications}
    lacking = next((q for q in rule.required_qualifications if q not in held), None)
    best: tuple[str, str] | None = None
    for person in inspectors:
        if person.certificate_no in excluded:
            continue
        if lacking is not None and lacking not in person.qualifications:
            continue
        ok, _ = eligibility(entity, person, rule, loads.get(person.certificate_no, person.open_cases))
        if not ok:
            continue
        key = (inspector_score(seed, task_code, entity.uscc, person.certificate_no), person.certificate_no)
        if best is None or key < best:
            best = key
    return None if best is None else best[1]


# --- the whole draw -------------------------------------------------------------------------


def run_draw(
    server_seed: bytes,
    witness_entropy: str,
    task_code: str,
    pool: Sequence[PoolEntity],
    quota_rule: QuotaRule,
    inspectors: Sequence[InspectorCandidate],
    team_rule: TeamRule,
    *,
    workers: int | None = None,
) -> DrawResult:
    """Seed, strata, selection and teams in one call (raises before returning on any error).

    ``workers``: see ``select_entities`` and ``assign_teams``.
    """
    seed = derive_seed(server_seed, witness_entropy)
    strata, selected = select_entities(seed, task_code, pool, quota_rule, workers=workers)
    teams = assign_teams(seed, task_code, selected, pool, inspectors, team_rule, workers=workers)
    return DrawResult(strata, selected, teams)
