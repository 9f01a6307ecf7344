"""The C extension suiji_native (native/): bit-identical HMACs, and identical draws with and without it.

Skipped when the extension is not built, except under CI=true, where that is a failure:
``make setup`` builds it (scripts/build-native.sh).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from app.draws import algorithm
from app.draws.algorithm import InspectorCandidate, InsufficientInspectors, PoolEntity, QuotaRule, TeamRule

try:
    import suiji_native
except ImportError:  # not built: see the fixture below
    suiji_native = None  # type: ignore[assignment]

BOUNDARY_LENGTHS = (0, 1, 8, 9, 31, 32, 54, 55, 56, 57, 63, 64, 65, 118, 119, 120, 121, 127, 128, 129, 183, 184, 192, 300)
TASK_CODES = ("JC-SAMR-2023-023", "JCSJ-2023-04", "001号", "太原市市场监管局2026年第一批双随机抽查任务（食品经营）", "")


@pytest.fixture(scope="module", autouse=True)
def native() -> Any:
    if suiji_native is None:
        message = "the C extension suiji_native is not built (make setup builds native/; see scripts/build-native.sh)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return suiji_native


@pytest.fixture(params=["portable", "sha-ni"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each SHA-256 compression function of the extension in turn."""
    if request.param == "sha-ni" and not suiji_native.sha_ni_supported():
        pytest.skip("this CPU has no SHA extensions: only the portable compression can run")
    assert suiji_native.set_backend(request.param) == request.param
    try:
        yield request.param
    finally:
        suiji_native.set_backend("auto")


def hmac_digest(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def random_text(rng: random.Random, n: int) -> str:
    """n characters, mixing ASCII with 2-, 3- and 4-byte UTF-8."""
    return "".join(rng.choice("AZaz09:-_é号检查市场监管😀") for _ in range(n))


# --- the primitives ---------------------------------------------------------------------------


def test_backend_selection() -> None:
    assert suiji_native.API_VERSION == algorithm._NATIVE_API
    expected = "sha-ni" if suiji_native.sha_ni_supported() else "portable"
    assert suiji_native.set_backend("auto") == expected == suiji_native.backend()
    with pytest.raises(ValueError):
        suiji_native.set_backend("openssl")
    assert suiji_native.backend() == expected


def test_sha256_equals_hashlib(backend: str) -> None:
    rng = random.Random(1)
    for n in [*range(0, 260), 1000, 4096, 100_003]:
        data = rng.randbytes(n)
        assert suiji_native.sha256(data) == hashlib.sha256(data).digest(), n


def test_hmac_scores_equal_hmac_at_block_boundaries(backend: str) -> None:
    """Prefix and message lengths around 55/56/64/119/120/128 bytes, in runs of equal length
    (hashed two at a time) and of mixed length, with keys of every kind of length."""
    rng = random.Random(2)
    for key_len in (32, 0, 1, 63, 64, 65, 200):
        key = rng.randbytes(key_len)
        for prefix_len in BOUNDARY_LENGTHS:
            prefix = rng.randbytes(prefix_len)
            for message_len in BOUNDARY_LENGTHS:
                messages = [rng.randbytes(message_len) for _ in range(3)] + [rng.randbytes(rng.randrange(140))]
                expected = b"".join(hmac_digest(key, prefix + m) for m in messages)
                assert suiji_native.hmac_scores(key, prefix, messages) == expected, (key_len, prefix_len, message_len)


def test_hmac_scores_of_random_seeds_and_utf8_text(backend: str) -> None:
    rng = random.Random(3)
    for _ in range(300):
        seed = rng.randbytes(32)
        prefix = random_text(rng, rng.randrange(70))
        messages = [random_text(rng, rng.randrange(50)) for _ in range(rng.randrange(8))]
        digests = suiji_native.hmac_scores(seed, prefix, messages)
        assert len(digests) == 32 * len(messages)
        for k, message in enumerate(messages):
            assert digests[32 * k : 32 * k + 32] == hmac_digest(seed, (prefix + message).encode("utf-8"))
        # str is hashed as its UTF-8 bytes
        assert suiji_native.hmac_scores(seed, prefix.encode(), [m.encode() for m in messages]) == digests


def test_specification_scores(backend: str) -> None:
    """The messages of suiji-draw-v1, with task codes long, short, Chinese and empty."""
    rng = random.Random(4)
    certs = ["14050001", "C1", "140500000001234567", "执法证-0001号", "1" * 70]
    for task in TASK_CODES:
        seed = rng.randbytes(32)
        usccs = [f"91140500{rng.randrange(10**9):09d}X" for _ in range(5)]
        entity = suiji_native.hmac_scores(seed, f"entity:{task}:", usccs)
        assert [entity[32 * k : 32 * k + 32].hex() for k in range(5)] == [
            algorithm.entity_score(seed, task, u) for u in usccs]
        for uscc in usccs:
            scores = suiji_native.hmac_scores(seed, f"inspector:{task}:{uscc}:", certs)
            assert [scores[32 * k : 32 * k + 32].hex() for k in range(len(certs))] == [
                algorithm.inspector_score(seed, task, uscc, c) for c in certs]


def test_scores_below(backend: str) -> None:
    rng = random.Random(5)
    seed = rng.randbytes(32)
    messages = [f"m{i}" for i in range(2000)]
    digests = [hmac_digest(seed, f"entity:T:{m}".encode()) for m in messages]
    limits: list[bytes | None] = [
        rng.choice([None, b"", b"\x10", b"\x40\x00", b"\xff" * 33, rng.randbytes(32), digests[i], digests[i] + b"\0",
                    digests[i][:5]])
        for i in range(len(messages))
    ]
    found = suiji_native.scores_below(seed, b"entity:T:", messages, limits)
    assert found == [(i, d) for i, (d, limit) in enumerate(zip(digests, limits)) if limit is not None and d < limit]
    assert suiji_native.scores_below(seed, "entity:T:", [], []) == []
    with pytest.raises(ValueError):
        suiji_native.scores_below(seed, b"p", ["a"], [])
    with pytest.raises(TypeError):
        suiji_native.scores_below(seed, b"p", ["a"], ["not bytes"])


def test_rank_inspectors(backend: str) -> None:
    rng = random.Random(6)
    seed = rng.randbytes(32)
    certs = sorted({f"1405{rng.randrange(10**8):08d}" for _ in range(300)}) + ["执法-号", "X" * 90]
    prefixes = [f"inspector:{rng.choice(TASK_CODES)}:91140500{i:09d}X:" for i in range(40)]
    masks = [None if i % 3 == 0 else bytes(rng.random() < 0.3 for _ in certs) for i in range(len(prefixes))]
    for limit in (None, b"\x30", rng.randbytes(32), b"\xff" * 33, b""):
        ranked = suiji_native.rank_inspectors(seed, prefixes, certs, limit, masks)
        for prefix, mask, row in zip(prefixes, masks, ranked):
            scores = {i: hmac_digest(seed, (prefix + c).encode()) for i, c in enumerate(certs) if not (mask and mask[i])}
            expected = sorted((i for i, d in scores.items() if limit is None or d < limit), key=lambda i: (scores[i], i))
            assert row == expected
    unmasked = suiji_native.rank_inspectors(seed, prefixes[:2], certs)
    assert unmasked == suiji_native.rank_inspectors(seed, prefixes[:2], certs, None, [None, bytes(len(certs))])
    assert sorted(unmasked[0]) == list(range(len(certs)))
    assert suiji_native.rank_inspectors(seed, [], certs) == []
    assert suiji_native.rank_inspectors(seed, ["p"], []) == [[]]
    with pytest.raises(ValueError):
        suiji_native.rank_inspectors(seed, ["p"], certs, None, [b"\0"])
    with pytest.raises(TypeError):
        suiji_native.rank_inspectors(seed, ["p"], [1, 2])


def test_threads_share_the_work() -> None:
    """Calls run without the GIL: several threads at once give the same answers."""
    seed = bytes(range(32))
    certs = [f"C{i:05d}" for i in range(1500)]
    prefixes = [f"inspector:T:{i}:" for i in range(60)]
    expected = suiji_native.rank_inspectors(seed, prefixes, certs, b"\x08")
    results: list[Any] = [None] * 4

    def work(k: int) -> None:
        results[k] = suiji_native.rank_inspectors(seed, prefixes, certs, b"\x08")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


# --- whole draws with and without the extension ------------------------------------------------


def use_native(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    monkeypatch.setattr(algorithm, "_native", suiji_native if on else None)


def test_the_algorithm_uses_the_extension_unless_told_not_to(monkeypatch: pytest.MonkeyPatch) -> None:
    if os.environ.get("SUIJI_DRAW_NATIVE", "").strip().lower() not in ("0", "false", "no", "off"):
        assert algorithm._native is suiji_native
    monkeypatch.setenv("SUIJI_DRAW_NATIVE", "0")
    assert algorithm._load_native() is None
    monkeypatch.setenv("SUIJI_DRAW_NATIVE", "1")
    assert algorithm._load_native() is suiji_native


def pure_outcome(s: dict[str, Any]) -> tuple[str, Any]:
    saved = algorithm._native
    algorithm._native = None
    try:
        return outcome(s, workers=1)
    finally:
        algorithm._native = saved


def draw_scenario(k: int) -> dict[str, Any]:
    """A random draw: stations (some blank), conflicts, qualifications; mostly with the tightest
    case cap that still allows the draw (caps bind), every fourth with a random cap (shortfalls)."""
    rng = random.Random(1000 + k)
    n_pool = rng.choice([30, 300, 1500])
    stations = [f"S{i}" for i in range(rng.randint(1, 5))] + [""]
    pool = [PoolEntity(f"91140500{i:09d}X", rng.choice("ABCDU"), rng.choice(stations)) for i in range(n_pool)]
    quals = ("food", "drug", "price", "药品")
    people = []
    for i in range(rng.choice([8, 25, 120])):
        held = tuple(q for q in quals if rng.random() < 0.4)
        conflicts = frozenset(rng.sample([e.uscc for e in pool], min(n_pool, rng.randrange(0, 30))))
        cert = rng.choice([f"14{i:06d}", f"执法{i:04d}号", f"C{i}"])
        people.append(InspectorCandidate(cert, rng.choice(stations), held, rng.randrange(4), conflicts))
    required = tuple(rng.sample(quals, rng.randint(0, 2)))
    rule = TeamRule(rng.choice([2, 2, 3]), required, rng.random() < 0.6, rng.choice([2, 3, 5, 50]))
    if rng.random() < 0.5:
        quota = QuotaRule("ratio", ratios={c: rng.choice(["0.01", "0.05", "0.1", "0.3"]) for c in "ABCDU"})
    else:
        quota = QuotaRule("count", count=rng.randrange(1, 40))
    task = rng.choice(TASK_CODES[:4])
    s = {"server_seed": rng.randbytes(32), "witness": f"见证 {k}", "task": task, "pool": pool,
         "quota": quota, "people": people, "rule": rule}
    if k % 4 != 3:
        for cap in range(1, 80):
            s["rule"] = TeamRule(rule.team_size, rule.required_qualifications, rule.cross_station, cap)
            if pure_outcome(s)[0] == "drawn":
                break
        else:
            s["rule"] = rule
    return s


def outcome(s: dict[str, Any], workers: int | None = None) -> tuple[str, Any]:
    try:
        result = algorithm.run_draw(s["server_seed"], s["witness"], s["task"], s["pool"], s["quota"], s["people"],
                                    s["rule"], workers=workers)
    except InsufficientInspectors as error:
        return "shortfall", error.shortfalls
    return "drawn", (result.strata, result.selected, result.teams)


@pytest.mark.parametrize("k", range(24))
def test_draws_are_identical_with_and_without_the_extension(k: int, monkeypatch: pytest.MonkeyPatch) -> None:
    s = draw_scenario(k)
    use_native(monkeypatch, False)
    expected = outcome(s, workers=1)
    use_native(monkeypatch, True)
    for name in ("portable", "sha-ni") if k % 4 == 0 and suiji_native.sha_ni_supported() else ("auto",):
        suiji_native.set_backend(name)
        try:
            assert outcome(s, workers=1) == expected
            assert outcome(s, workers=3) == expected  # threads
        finally:
            suiji_native.set_backend("auto")


def test_scenarios_cover_shortfalls_binding_caps_and_qualifications(monkeypatch: pytest.MonkeyPatch) -> None:
    kinds = set()
    for k in range(24):
        s = draw_scenario(k)
        kind, detail = outcome(s, workers=1)
        kinds.add(kind)
        if kind == "drawn":
            teams = detail[2]
            given = {p.certificate_no: p.open_cases for p in s["people"]}
            for team in teams.values():
                for cert in team:
                    given[cert] += 1
            if any(given[p.certificate_no] == s["rule"].case_cap for p in s["people"]):
                kinds.add("cap reached")
                if s["rule"].required_qualifications:
                    kinds.add("cap reached, qualifications required")
    assert kinds >= {"drawn", "shortfall", "cap reached", "cap reached, qualifications required"}


def test_short_lists_exhausted_by_caps_with_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny short lists: the case cap exhausts them, entities are ranked in full, same teams."""
    s = draw_scenario(5)
    s["quota"] = QuotaRule("count", count=60)
    s["rule"] = TeamRule(2, ("food",), True, 4)
    s["people"] = [InspectorCandidate(f"C{i:03d}", f"S{i % 3}", ("food",) if i % 2 else (), 0, frozenset())
                   for i in range(40)]
    use_native(monkeypatch, False)
    expected = outcome(s, workers=1)
    use_native(monkeypatch, True)
    full = []
    rank_many = algorithm._Matcher.rank_many

    def counting(self, jobs, full_ranking=False):  # type: ignore[no-untyped-def]
        full.append(full_ranking)
        return rank_many(self, jobs, full_ranking)

    monkeypatch.setattr(algorithm._Matcher, "rank_many", counting)
    monkeypatch.setattr(algorithm._Matcher, "_limit", lambda self, shortlist: bytes([6]) + bytes(31))
    assert outcome(s, workers=1) == expected
    assert expected[0] == "drawn" and any(full)


def test_threads_inside_a_threaded_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A web server or job worker has threads of its own: matching threads change nothing."""
    s = draw_scenario(7)
    use_native(monkeypatch, True)
    expected = outcome(s, workers=1)
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait, daemon=True)
    waiter.start()
    try:
        assert outcome(s, workers=2) == expected
        assert outcome(s) == expected
    finally:
        stop.set()
        waiter.join()
