"""Protocol files that are not what they claim: special files, strict types, sampling, budgets."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigctl import protocol as proto
from rigctl.cli import main
from rigctl.cli.protocols import COMPILE_BUDGET_SAMPLES
from rigctl.protocol.sampling import _surely_sampled
from tests import hostile_corpus as hc


def _load_in_thread(path: Path | str) -> BaseException | proto.Experiment:
    """Load ``path`` on a thread; fail (instead of hanging the suite) after 10 s."""
    box: list[BaseException | proto.Experiment] = []

    def attempt() -> None:
        try:
            box.append(proto.load(path))
        except BaseException as exc:
            box.append(exc)

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), f"loading {path} hung"
    return box[0]


def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    outcome = _load_in_thread(fifo)
    assert isinstance(outcome, proto.ProtocolFileError)
    assert str(outcome) == (
        f"{fifo}: is a named pipe (FIFO), not a protocol file; give the path of a regular file"
    )


def test_devices_and_folders_are_refused_in_one_sentence(tmp_path: Path) -> None:
    outcome = _load_in_thread("/dev/zero")
    assert isinstance(outcome, proto.ProtocolFileError)
    assert str(outcome).startswith("/dev/zero: is a device, not a protocol file")
    outcome = _load_in_thread(tmp_path)
    assert str(outcome) == f"{tmp_path}: is a folder, not a protocol file"


def test_read_limited_stops_at_the_cap(tmp_path: Path) -> None:
    f = tmp_path / "big.json"
    f.write_bytes(b" " * 5000)
    assert proto.read_limited(f, 5000, "x") == b" " * 5000
    with pytest.raises(proto.FileRefusedError, match="larger than"):
        proto.read_limited(f, 4999, "x")


def test_a_bom_is_accepted_in_both_kinds_of_file(tmp_path: Path) -> None:
    f = tmp_path / "bom.json"
    f.write_bytes(b"\xef\xbb\xbf" + hc.GOOD_PROTOCOL)
    assert proto.load(f) == proto.loads(hc.GOOD_PROTOCOL)
    assert proto.loads("\ufeff" + hc.GOOD_PROTOCOL.decode()) == proto.load(f)


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("nan", "induction.phases[0].pre.rate_hz: NaN is not a number JSON allows"),
        ("infinity", "induction.gap_ms: Infinity is not a number"),
        ("float-overflow", "induction.gap_ms: the number 1e400 is too large"),
        ("huge-int", "induction.repeats: the number 99999999999999999999... (30 digits)"),
        ("giant-int", "induction.repeats: the number 99999999999999999999... (5000 digits)"),
        ("dup-nested", "induction.phases[0].pre.rate_hz: appears twice in one object"),
        ("dup-top", "format: appears twice in one object"),
        ("deep-40", "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a: is nested"),
        ("deep-json", "is nested more than 32 levels deep (line 1, column 33)"),
        ("latin1", "is not a text file (not UTF-8 encoded JSON at line 1, column "),
    ],
)
def test_problems_name_the_field_path_or_line(tmp_path: Path, name: str, line: str) -> None:
    f = hc.materialize(tmp_path, f"{name}.json", dict(hc.PROTOCOLS)[name])
    with pytest.raises(proto.ProtocolFileError) as info:
        proto.load(f)
    assert info.value.lines()[0].startswith(f"{f}: {line}"), info.value.lines()


# --------------------------------------------------------------------------- sampling


def test_a_current_step_shorter_than_a_sample_is_refused() -> None:
    exp = proto.loads(dict(hc.PROTOCOLS_VALID)["short-step"])
    with pytest.raises(proto.CompileError, match=r"current step .* shorter than one sample") as i:
        proto.compile_induction(exp.induction).waveforms(20_000)
    assert i.value.field == "induction.phases[0].post.lag_ms"
    with pytest.raises(proto.CompileError, match="current step"):
        proto.check_experiment_sampling(exp, 20_000)
    proto.check_experiment_sampling(exp, 200_000)  # 5 µs samples: the 10 µs step survives


def test_validate_catches_pulses_that_merge_and_takes_a_rate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = hc.materialize(tmp_path, "j.json", dict(hc.PROTOCOLS_VALID)["jitter-merges"])
    proto.load(f)  # a valid file ...
    assert main(["validate", str(f)]) == 1  # ... whose pulses merge at 20 kHz
    out = capsys.readouterr().out
    assert out.startswith(f"{f}: induction.phases[1].pre.jitter_ms: the pulses at ")
    assert "merge at 20000 Hz" in out and "no sample rate separates them" in out
    short = hc.materialize(tmp_path, "s.json", dict(hc.PROTOCOLS_VALID)["short-pulse"])
    assert main(["validate", str(short)]) == 1
    assert "raise the sample rate to at least 100000 Hz" in capsys.readouterr().out
    assert main(["validate", "--rate", "100000", str(short)]) == 0
    assert main(["validate", "--rate", "25000", str(short)]) == 1
    capsys.readouterr()


def _random_induction(rnd: random.Random) -> proto.Induction | None:
    phases = []
    for i in range(rnd.randint(1, 3)):
        rate = rnd.choice([10, 25, 50, 100, 200, 333, 500])
        width = rnd.choice([20, 50, 100, 200])
        room = (1000 / rate - 2 * width / 1000) / 2
        jitter = round(rnd.uniform(0, room), 3) if rnd.random() < 0.7 else 0
        dur = rnd.choice([20, 50, 100, 37.5])
        phases.append(
            {
                "name": f"p{i}",
                "duration_ms": dur,
                "pre": {
                    "rate_hz": rate,
                    "pulse_width_us": width,
                    "timing": "jittered" if jitter else "regular",
                    "jitter_ms": jitter,
                    "seed": rnd.randint(0, 5),
                },
                "post": {"target_rate_hz": 25, "current_pa": 100, "lag_ms": dur - 0.06},
            }
        )
    try:
        return proto.Induction.model_validate(
            {
                "phases": phases,
                "window_ms": None,
                "repeats": rnd.randint(1, 5),
                "gap_ms": rnd.choice([0, 0.01, 100]),
            }
        )
    except ValueError:
        return None


def test_the_fast_sampling_check_agrees_with_rendering() -> None:
    rnd = random.Random(7)
    outcomes = {True: 0, False: 0}
    for _ in range(150):
        ind = _random_induction(rnd)
        if ind is None:
            continue
        exp = proto.Experiment(metadata=proto.Metadata(name="x"), induction=ind)
        fs = rnd.choice([20_000, 10_000, 50_000, 7919.5])
        try:
            proto.compile_probe(exp.probes).waveforms(fs)
            proto.compile_induction(ind).waveforms(fs)
            rendered = None
        except proto.CompileError as exc:
            rendered = str(exc)
        try:
            proto.check_experiment_sampling(exp, fs)
            checked = None
        except proto.CompileError as exc:
            checked = str(exc)
        assert (rendered is None) == (checked is None), (fs, rendered, checked)
        if _surely_sampled(ind, fs):  # the shortcut must never pass a failing induction
            proto.compile_induction(ind).waveforms(fs)
        outcomes[rendered is None] += 1
    assert outcomes[True] > 20 and outcomes[False] > 20  # both kinds were exercised


# --------------------------------------------------------------------------- budgets


def test_show_validate_and_compile_refusal_are_fast_on_a_60_min_500_hz_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = hc.materialize(tmp_path, "long.json", dict(hc.PROTOCOLS_VALID)["long-500hz"])
    t0 = time.perf_counter()
    assert main(["show", str(f)]) == 0
    assert main(["validate", str(f)]) == 0
    out = tmp_path / "x.npz"
    assert main(["compile", str(f), "--out", str(out)]) == 1
    assert time.perf_counter() - t0 < 3.0  # about 0.1 s; generous for a loaded machine
    err = capsys.readouterr().err
    assert f"over compile's budget of {COMPILE_BUDGET_SAMPLES:,} samples" in err
    assert not out.exists()


def test_compile_at_10_mhz_is_refused_before_allocating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = hc.materialize(tmp_path, "p.json", hc.GOOD_PROTOCOL)
    out = tmp_path / "x.npz"
    assert main(["compile", str(f), "--rate", "1e7", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{f}: the induction sweep would be 62,000,001 samples")
    assert "--rate 967741 or lower" in err and not out.exists()
    assert main(["compile", str(f), "--rate", "967741", "--out", str(out)]) == 0
    capsys.readouterr()


def test_render_budget_names_itself() -> None:
    sweep = proto.compile_induction(proto.Induction(repeats=1000, gap_ms=3000))
    with pytest.raises(proto.CompileError, match="over the budget of 6,000,000"):
        sweep.waveforms(20_000)


# --------------------------------------------------------------------------- strict types

_numbers = st.integers(min_value=1, max_value=40) | st.floats(min_value=1.0, max_value=40.0)


@settings(max_examples=60, deadline=None)
@given(rate=_numbers, gap=_numbers, repeats=st.integers(min_value=1, max_value=20))
def test_round_trip_with_ints_or_floats(rate: float, gap: float, repeats: int) -> None:
    exp = proto.paper_condition(25, 50)
    phases = tuple(p.replace(pre=p.pre.replace(rate_hz=rate)) for p in exp.induction.phases)
    try:
        exp = exp.replace(
            induction=exp.induction.replace(phases=phases, gap_ms=gap, repeats=repeats)
        )
    except ValueError:
        return  # a physically impossible combination, refused by the model
    again = proto.loads(proto.dumps(exp))
    assert again == exp
    assert isinstance(again.induction.repeats, int)
    assert all(isinstance(p.pre.rate_hz, float) for p in again.induction.phases)


_wrong: st.SearchStrategy[Any] = st.sampled_from([True, False, "25", " 1.6e2 ", "", None, [], {}])
_FIELDS = [
    ("induction", "phases", 0, "pre", "rate_hz"),
    ("induction", "phases", 1, "post", "target_rate_hz"),
    ("induction", "repeats"),
    ("induction", "gap_ms"),
    ("probes", "interval_s"),
    ("probes", "test_step", "amplitude_pa"),
]


@settings(max_examples=80, deadline=None)
@given(where=st.sampled_from(_FIELDS), value=_wrong)
def test_no_bool_or_text_becomes_a_number(where: tuple[Any, ...], value: Any) -> None:
    doc = json.loads(hc.GOOD_PROTOCOL)
    node = doc
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(proto.ProtocolFileError) as info:
        proto.loads(json.dumps(doc), "s.json")
    path = ".".join(str(k) for k in where).replace(".0.", "[0].").replace(".1.", "[1].")
    assert any(line.startswith(f"s.json: {path}: ") for line in info.value.lines())


@settings(max_examples=60, deadline=None)
@given(name=st.text(min_size=1, max_size=20))
def test_names_with_control_characters_are_refused(name: str) -> None:
    doc = json.loads(hc.GOOD_PROTOCOL)
    doc["metadata"]["name"] = name
    has_control = any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in name) or any(
        c in name for c in "\u2028\u2029"
    )
    try:
        exp = proto.loads(json.dumps(doc), "n.json")
    except proto.ProtocolFileError as exc:
        assert has_control or not name.strip(), exc
        return
    assert not has_control and exp.metadata.name == name.strip()


def test_jittered_starts_on_integers_equal_fraction_arithmetic() -> None:
    from fractions import Fraction

    from rigctl.protocol.compile import _jittered_starts

    rnd = random.Random(11)
    for _ in range(200):
        onset = proto.exact(rnd.choice([0.0, 1.1, 7.25]))
        period = 1000 / proto.exact(rnd.choice([3.0, 33.3, 50.0, 500.0]))
        latest = proto.exact(rnd.choice([37.4, 99.9, 250.15]))
        start = Fraction(rnd.randint(0, 10**6), rnd.choice([1, 3, 10]))
        shifts = [rnd.uniform(-5, 5) for _ in range(rnd.randint(0, 30))]
        naive = sorted(
            min(max(onset + k * period + Fraction(s), Fraction(0)), latest)
            for k, s in enumerate(shifts)
        )
        got = _jittered_starts(start, onset, period, latest, shifts)
        assert got == [start + off for off in naive]
