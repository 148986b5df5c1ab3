"""NWB export: round trip through pynwb, nwbinspector, folders left by a crash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nwbinspector import (  # type: ignore[import-untyped, unused-ignore]
    Importance,
    inspect_nwbfile,
)
from pynwb import NWBHDF5IO  # type: ignore[import-untyped, unused-ignore]

from rigctl import protocol as proto
from rigctl.engine import (
    DataFolderError,
    ExperimentRunner,
    RunOptions,
    RunState,
    load_recording,
)
from rigctl.engine.nwb import DEFAULT_SPECIES, NwbExportError, export_nwb
from rigctl.hardware import SimRig, load_rig
from tests.conftest import PROTOCOLS

# hdmf 6.2's AlignedDynamicTable.get() calls DataFrame.set_index(inplace=True), which pandas
# 3 deprecates; nwbinspector's check_col_not_nan reaches it for the recordings table. The
# warning is in those libraries, not in the file, so it is ignored by its exact text here.
HDMF_PANDAS = "ignore:The inplace keyword in DataFrame.set_index:DeprecationWarning"

NOTE = "bath at 32 C, access 12 MOhm"


def _short(exp: proto.Experiment) -> proto.Experiment:
    return exp.replace(probes=exp.probes.replace(baseline_min=1, followup_min=2))


def _record(folder: Path, seed: int = 3) -> Path:
    exp = _short(proto.load(PROTOCOLS / "theta-25-50.json"))
    result = ExperimentRunner(
        SimRig(load_rig(), seed=seed), exp, folder, RunOptions(fast=True, write_nwb=False)
    ).run()
    assert result.state == RunState.DONE
    # A note as the runner journals it (the GUI adds notes while the run goes on).
    with open(folder / "journal.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": "note", "text": NOTE, "at_s": 40.0}) + "\n")
    return folder


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _record(tmp_path_factory.mktemp("nwb") / "rec")


@pytest.fixture(scope="module")
def exported(recording: Path) -> Path:
    return export_nwb(
        recording,
        subject={"subject_id": "mouse-17", "sex": "male", "age": "P17D", "strain": "C57BL/6J"},
        session={"experimenter": "Doe, Jane", "lab": "Plasticity lab", "institution": "UC Davis"},
    )


def _index_groups(table: Any, column: str) -> list[list[int]]:
    """Rows of a ragged DynamicTableRegion column, read from its raw index (no pandas)."""
    ends = [int(x) for x in table[f"{column}_index"].data[:]]
    targets = [int(x) for x in table[column].target.data[:]]
    starts = [0, *ends[:-1]]
    return [targets[a:b] for a, b in zip(starts, ends, strict=True)]


def test_round_trip(recording: Path, exported: Path) -> None:
    rec = load_recording(recording)
    n = len(rec.sweeps)
    assert exported == recording / "recording.nwb"
    assert not list(recording.glob(".recording*"))  # no temporary file left
    with NWBHDF5IO(exported, "r") as io:
        f = io.read()
        assert len(f.acquisition) == n
        assert len(f.stimulus) == 2 * n
        for s in rec.sweeps:
            a = s.arrays()
            vm = f.acquisition[f"vm_{s.index:05d}"]
            assert vm.unit == "volts" and vm.conversion == pytest.approx(1e-3)
            assert vm.data.dtype == np.float32
            np.testing.assert_array_equal(vm.data[:], a["vm_mv"])  # stored exactly as journaled
            np.testing.assert_allclose(vm.data[:] * vm.conversion, a["vm_mv"] * 1e-3, rtol=1e-6)
            assert vm.rate == s.meta["sample_rate_hz"]
            assert vm.starting_time == pytest.approx(s.meta["at_s"])
            assert vm.gain == pytest.approx(20.0)  # 10 mV/mV x primary gain 2
            assert vm.sweep_number == s.index
            cmd = f.stimulus[f"command_{s.index:05d}"]
            assert cmd.unit == "amperes"
            np.testing.assert_allclose(cmd.data[:] * cmd.conversion, a["command_pa"] * 1e-12)
            ttl = f.stimulus[f"stim_ttl_{s.index:05d}"]
            np.testing.assert_array_equal(ttl.data[:], a["stim"] * 5.0)
            assert ttl.unit == "volts" and ttl.conversion == 1.0

        # The recordings table: one row per sweep, in order, with its analysis.
        ir = f.intracellular_recordings
        assert len(ir) == n
        sweep = ir.category_tables["sweep"]
        assert [int(x) for x in sweep["sweep_index"].data[:]] == [s.index for s in rec.sweeps]
        segments = [str(x) for x in sweep["segment"].data[:]]
        assert segments == [s.meta["segment"] for s in rec.sweeps]
        analysis = ir.category_tables["analysis"]
        epsp = np.asarray(analysis["epsp_mv"].data[:])
        expected = [s.meta["analysis"].get("epsp_mv", np.nan) for s in rec.sweeps]
        np.testing.assert_allclose(epsp, expected, equal_nan=True)
        norm = np.asarray(analysis["normalized_epsp"].data[:])
        base = [i for i, seg in enumerate(segments) if seg == "baseline"]
        assert np.mean(norm[base]) == pytest.approx(1.0)
        assert np.isfinite(np.asarray(analysis["rin_mohm"].data[:])[base]).all()

        # Grouping: one simultaneous recording per sweep, one sequential per segment.
        sim = f.icephys_simultaneous_recordings
        assert _index_groups(sim, "recordings") == [[i] for i in range(n)]
        seq = f.icephys_sequential_recordings
        groups = _index_groups(seq, "simultaneous_recordings")
        assert [[segments[i] for i in g] for g in groups] == [
            ["baseline"] * segments.count("baseline"),
            ["induction"],
            ["followup"] * segments.count("followup"),
        ]
        stypes = [str(x) for x in seq["stimulus_type"].data[:]]
        assert "induction" in stypes[1] and "probe" in stypes[0] and "probe" in stypes[2]
        assert _index_groups(f.icephys_repetitions, "sequential_recordings") == [[0, 1, 2]]
        assert [str(x) for x in f.icephys_experimental_conditions["condition"].data[:]] == ["25-50"]

        # Metadata: protocol as run, notes, subject, session, devices.
        assert json.loads(f.protocol) == json.loads((recording / "protocol.json").read_text())
        assert NOTE in f.notes and "status done" in f.notes
        assert f.subject.subject_id == "mouse-17" and f.subject.age == "P17D"
        assert f.subject.sex == "M"
        assert f.subject.species == DEFAULT_SPECIES and f.subject.strain == "C57BL/6J"
        assert list(f.experimenter) == ["Doe, Jane"] and f.institution == "UC Davis"
        assert "MultiClamp 700B" in f.icephys_electrodes["electrode"].description
        assert {"amplifier", "daq", "stimulator"} <= set(f.devices)
        assert f.session_start_time.tzinfo is not None
        phases = f.processing["icephys"]["induction_phases"]
        assert [str(x) for x in phases["phase"].data[:]] == ["prediction", "outcome"]


@pytest.mark.filterwarnings(HDMF_PANDAS)
def test_nwbinspector_finds_nothing_important(exported: Path) -> None:
    messages = list(inspect_nwbfile(nwbfile_path=exported))
    # ERROR (a check crashed), PYNWB_VALIDATION, CRITICAL, BEST_PRACTICE_VIOLATION: none.
    serious = [
        m for m in messages if m.importance.value >= Importance.BEST_PRACTICE_VIOLATION.value
    ]
    assert not serious, [
        f"{m.importance.name} {m.check_function_name}: {m.message}" for m in serious
    ]
    # What remains is expected: a single cell has one repetition and one condition.
    assert {m.check_function_name for m in messages} <= {"check_single_row"}


@pytest.mark.filterwarnings(HDMF_PANDAS)
def test_defaults_without_metadata_pass_inspection(tmp_path: Path, recording: Path) -> None:
    out = export_nwb(recording, path=tmp_path / "bare.nwb")
    messages = list(inspect_nwbfile(nwbfile_path=out))
    assert not [
        m for m in messages if m.importance.value >= Importance.BEST_PRACTICE_VIOLATION.value
    ]
    with NWBHDF5IO(out, "r") as io:
        f = io.read()
        assert f.subject.subject_id == "rec" and f.subject.sex == "U" and f.subject.age == "P0D/"
        assert "Simulated" in f.subject.description


@pytest.mark.filterwarnings(HDMF_PANDAS)
def test_export_after_a_crash(tmp_path: Path, recording: Path) -> None:
    folder = tmp_path / "crashed"
    shutil.copytree(recording, folder)
    for name in ("recording.json", "analysis.csv", "recording.nwb"):
        (folder / name).unlink(missing_ok=True)
    sweeps = sorted((folder / "sweeps").glob("*.npz"))
    sweeps[-1].unlink()  # the sweep in flight never reached the disk
    sweeps[-2].write_bytes(b"\0" * 100)  # a damaged file (disk error)
    journal = folder / "journal.jsonl"
    lines = journal.read_text().splitlines()
    ends = [i for i, line in enumerate(lines) if '"event": "end"' in line]
    kept = [line for i, line in enumerate(lines) if i not in ends]
    journal.write_text("\n".join(kept) + "\n" + kept[-1][: len(kept[-1]) // 2])  # torn last line
    rec = load_recording(folder)
    assert rec.status == "interrupted" and rec.damaged

    out = export_nwb(folder)
    with NWBHDF5IO(out, "r") as io:
        f = io.read()
        assert len(f.intracellular_recordings) == len(rec.sweeps) == len(sweeps) - 2
        assert "status interrupted" in f.notes and "damaged" in f.notes
    messages = list(inspect_nwbfile(nwbfile_path=out))
    assert not [
        m for m in messages if m.importance.value >= Importance.BEST_PRACTICE_VIOLATION.value
    ]


def test_export_of_a_recording_stopped_in_the_baseline(tmp_path: Path) -> None:
    folder = tmp_path / "early"
    exp = _short(proto.load(PROTOCOLS / "theta-50-25.json"))
    runner = ExperimentRunner(
        SimRig(load_rig(), seed=2), exp, folder, RunOptions(fast=True, write_nwb=False)
    )
    runner.sweep_acquired.connect(lambda rec: runner.stop() if rec.index == 1 else None)
    assert runner.run().state == RunState.STOPPED
    out = export_nwb(folder)
    with NWBHDF5IO(out, "r") as io:
        f = io.read()
        assert len(f.icephys_sequential_recordings) == 1  # only the baseline segment


def test_runner_writes_the_nwb_at_the_end(tmp_path: Path) -> None:
    exp = _short(proto.load(PROTOCOLS / "theta-25-25.json"))
    result = ExperimentRunner(
        SimRig(load_rig(), seed=4),
        exp,
        tmp_path / "rec",
        RunOptions(fast=True, subject={"subject_id": "m1"}, session={"lab": "Zito lab"}),
    ).run()
    assert result.nwb_path is not None and result.nwb_path.exists()
    with NWBHDF5IO(result.nwb_path, "r") as io:
        f = io.read()
        assert f.subject.subject_id == "m1" and f.lab == "Zito lab"


def test_export_replaces_an_existing_file(tmp_path: Path, recording: Path) -> None:
    target = tmp_path / "out.nwb"
    target.write_bytes(b"old")
    assert export_nwb(recording, path=target) == target
    with NWBHDF5IO(target, "r") as io:
        assert len(io.read().acquisition) == len(load_recording(recording).sweeps)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nwb"]


def test_unusable_folders_raise_a_typed_error(tmp_path: Path, recording: Path) -> None:
    with pytest.raises(NwbExportError, match="not a rigctl recording folder") as info:
        export_nwb(tmp_path)
    assert isinstance(info.value, DataFolderError)  # handled wherever folder errors are
    assert "\n" not in str(info.value)
    empty = tmp_path / "empty"
    (empty / "sweeps").mkdir(parents=True)
    with pytest.raises(NwbExportError, match="no readable sweep"):
        export_nwb(empty)
    with pytest.raises(NwbExportError, match="unknown session field 'experimentor'"):
        export_nwb(recording, session={"experimentor": "Doe, Jane"}, path=tmp_path / "x.nwb")
    with pytest.raises(NwbExportError, match="cannot write"):
        export_nwb(recording, path=tmp_path / "missing" / "x.nwb")
