"""`modlab analyze`: any checkpoint format, per-gate / per-kernel matrices, JSON and HTML
output, and one-line exit-2 errors (never executing code) for malformed or hostile files."""
import json
import os
import pickle
import re

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from typer.testing import CliRunner

from modlab.analysis import Limits, WeightMatrix, analyse_matrix
from modlab.cli import app

runner = CliRunner()


def block_diagonal(k: int, rows: int, cols: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    w = np.zeros((k * rows, k * cols), dtype=np.float32)
    for b in range(k):
        w[b * rows:(b + 1) * rows, b * cols:(b + 1) * cols] = rng.normal(size=(rows, cols))
    return torch.from_numpy(w)


def invoke(*args):
    return runner.invoke(app, ["analyze", *map(str, args)])


def json_rows(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def assert_one_line_error(result, needle):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output
    assert lines[0].startswith("error: ") and "Traceback" not in result.output


@pytest.fixture
def mlp_pt(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 4))
    state = model.state_dict()
    state["0.weight"] = block_diagonal(4, 8, 1)          # a planted 4-module first layer
    path = tmp_path / "mlp.pt"
    torch.save(state, path)
    return path


def test_plain_state_dict_table_and_json(mlp_pt):
    table = invoke(mlp_pt, "--n-shuffle", "5")
    assert table.exit_code == 0, table.output
    assert "0.weight" in table.output and "2.weight" in table.output
    rows = json_rows(invoke(mlp_pt, "--json", "--k", "4", "--n-shuffle", "5"))
    assert [r["name"] for r in rows] == ["0.weight", "2.weight"]
    first = rows[0]
    for key in ("shape", "k_star", "eigengaps", "q", "ncut_z", "dropped_neurons", "notes"):
        assert key in first
    assert first["shape"] == [32, 4] and first["k_star"] == 4
    assert first["gap_at_k"] == pytest.approx(1.0, abs=1e-9)   # single-input modules: g_4 = 1
    assert first["q"] > 0.7 and first["ncut_z"] < -4 and first["dropped_neurons"] == 0


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_pth_and_safetensors_give_the_same_rows(mlp_pt, tmp_path, suffix):
    state = torch.load(mlp_pt, weights_only=True)
    other = tmp_path / f"copy{suffix}"
    save_file(state, str(other)) if suffix == ".safetensors" else torch.save(state, other)
    a = json_rows(invoke(mlp_pt, "--json", "--n-shuffle", "3"))
    b = json_rows(invoke(other, "--json", "--n-shuffle", "3"))
    assert a == b


def test_nested_state_dict_is_found(tmp_path, mlp_pt):
    path = tmp_path / "wrapped.pt"
    torch.save({"epoch": 3, "state_dict": torch.load(mlp_pt, weights_only=True)}, path)
    result = invoke(path, "--n-shuffle", "3")
    assert result.exit_code == 0, result.output
    assert "state_dict under key 'state_dict'" in result.output


def test_modlab_ensemble_checkpoint_labels_members_by_seed_and_setting(tmp_path):
    stack = torch.stack([block_diagonal(4, 8, 1, s) for s in range(3)])
    tensors = {"layers.0.weight": stack, "layers.0.bias": torch.zeros(3, 32),
               "layers.1.weight": torch.randn(3, 4, 32), "noise.sigma": torch.ones(3, 1, 1)}
    save_file(tensors, str(tmp_path / "group0.safetensors"))
    configs = [{"seed": 11, "setting": "WA"}, {"seed": 12, "setting": "WA"}, {"seed": 13}]
    (tmp_path / "group0.json").write_text(json.dumps(configs))
    rows = json_rows(invoke(tmp_path / "group0.safetensors", "--json", "--n-shuffle", "3"))
    assert [(r["name"], r["seed"], r["setting"]) for r in rows] == [
        ("layers.0.weight", 11, "WA"), ("layers.0.weight", 12, "WA"), ("layers.0.weight", 13, None),
        ("layers.1.weight", 11, "WA"), ("layers.1.weight", 12, "WA"), ("layers.1.weight", 13, None)]
    assert all(r["k_star"] == 4 for r in rows[:3])
    table = invoke(tmp_path / "group0.safetensors", "--n-shuffle", "3")
    assert "0: WA / seed 11" in table.output and "2: seed 13" in table.output


def test_sweep_run_checkpoint_one_member_with_run_labels(tmp_path):
    # sweep/experiment.py writes one run per file: a 1-member state_dict (leading dim 1) and
    # [{**config, "labels": {...}, "run_id": ...}].
    tensors = {"layers.0.weight": block_diagonal(4, 8, 1)[None], "layers.0.bias": torch.zeros(1, 32),
               "layers.1.weight": torch.randn(1, 1, 32)}                  # a 1×32 output layer
    save_file(tensors, str(tmp_path / "run.safetensors"))
    entry = {"seed": 3, "net": {"kind": "mlp"}, "labels": {"setting": "WA", "seed": 3}, "run_id": "k"}
    (tmp_path / "run.json").write_text(json.dumps([entry]))
    rows = json_rows(invoke(tmp_path / "run.safetensors", "--json", "--n-shuffle", "3"))
    assert [(r["name"], r["matrix_shape"], r["seed"], r["setting"]) for r in rows] == [
        ("layers.0.weight", [32, 4], 3, "WA"), ("layers.1.weight", [1, 32], 3, "WA")]
    assert rows[0]["k_star"] == 4 and rows[0]["run_labels"] == {"setting": "WA", "seed": 3}


def test_member_major_blocks_are_split_per_member(tmp_path):
    # 2 members × 3 blocks of (8, 1) weights, member-major as in the modular nets.
    tensors = {"blocks.0.weight": torch.randn(6, 8, 1), "blocks.0.bias": torch.zeros(6, 8)}
    save_file(tensors, str(tmp_path / "mod.safetensors"))
    (tmp_path / "mod.json").write_text(json.dumps([{"seed": 0}, {"seed": 1}]))
    rows = json_rows(invoke(tmp_path / "mod.safetensors", "--json", "--n-shuffle", "3"))
    assert [(r["seed"], r["block"]) for r in rows] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert all(r["matrix_shape"] == [8, 1] for r in rows)
    table = invoke(tmp_path / "mod.safetensors", "--n-shuffle", "3")
    assert "blocks.0.weight [block 2]" in table.output


def test_weights_by_name_by_default_other_tensors_by_glob(tmp_path):
    path = tmp_path / "custom.pt"
    torch.save({"W": block_diagonal(2, 4, 2), "pos_table": torch.randn(6, 3)}, path)
    rows = json_rows(invoke(path, "--json", "--n-shuffle", "3"))
    assert [r["name"] for r in rows] == ["W", "pos_table"]      # no "*weight*": all of them
    assert rows[0]["k_star"] == 2
    torch.save({"fc.weight": torch.randn(6, 3), "pos_table": torch.randn(6, 3)}, path)
    assert [r["name"] for r in json_rows(invoke(path, "--json", "--n-shuffle", "3"))] == ["fc.weight"]
    rows = json_rows(invoke(path, "--json", "--layers", "pos_*", "--n-shuffle", "3"))
    assert [r["name"] for r in rows] == ["pos_table"]


@pytest.mark.parametrize("make, gates", [
    (lambda: nn.LSTM(3, 5), "ifgo"),
    (lambda: nn.GRU(3, 5), "rzn"),
    (lambda: nn.RNN(3, 5), None),
])
def test_recurrent_weights_are_split_per_gate(tmp_path, make, gates):
    torch.manual_seed(0)
    path = tmp_path / "rnn.pt"
    torch.save(make().state_dict(), path)
    rows = json_rows(invoke(path, "--json", "--n-shuffle", "3"))
    ih = [r for r in rows if r["name"] == "weight_ih_l0"]
    hh = [r for r in rows if r["name"] == "weight_hh_l0"]
    if gates is None:
        assert [r["gate"] for r in ih] == [None] and ih[0]["matrix_shape"] == [5, 3]
        return
    assert "".join(r["gate"] for r in ih) == gates == "".join(r["gate"] for r in hh)
    assert all(r["matrix_shape"] == [5, 3] for r in ih)
    assert all(r["matrix_shape"] == [5, 5] for r in hh)
    assert "split into gates" in ih[0]["notes"][0]


def test_lstm_with_projection_uses_the_hidden_size(tmp_path):
    path = tmp_path / "proj.pt"
    torch.save(nn.LSTM(3, 6, proj_size=2).state_dict(), path)
    rows = json_rows(invoke(path, "--json", "--n-shuffle", "3"))
    hh = [r for r in rows if r["name"] == "weight_hh_l0"]
    assert [r["matrix_shape"] for r in hh] == [[6, 2]] * 4
    assert [r["matrix_shape"] for r in rows if r["name"] == "weight_hr_l0"] == [[2, 6]]


def test_conv_kernels_are_reduced_over_the_window_and_int_buffers_ignored(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 4, 3))
    path = tmp_path / "conv.pt"
    torch.save(model.state_dict(), path)                 # has int64 num_batches_tracked
    rows = json_rows(invoke(path, "--json", "--n-shuffle", "3"))
    assert [r["name"] for r in rows] == ["0.weight", "2.weight"]
    assert rows[0]["shape"] == [8, 3, 3, 3] and rows[0]["matrix_shape"] == [8, 3]
    assert "summed over the 3×3 kernel window" in rows[0]["notes"][0]
    table = invoke(path, "--n-shuffle", "3")
    assert "kernel window" in table.output


def test_layers_glob_selects_by_state_dict_name(mlp_pt):
    rows = json_rows(invoke(mlp_pt, "--json", "--layers", "2.*", "--n-shuffle", "3"))
    assert [r["name"] for r in rows] == ["2.weight"]
    assert_one_line_error(invoke(mlp_pt, "--layers", "enc*"), "matches no weight tensor")


def test_html_report_is_self_contained(mlp_pt, tmp_path):
    out = tmp_path / "report"
    result = invoke(mlp_pt, "--report", out, "--n-shuffle", "3")
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert page.count("src='data:image/png;base64,") == 2        # one image per layer
    assert "<table>" in page and "0.weight" in page
    assert not re.search(r"https?://|<script|<link", page)       # nothing to fetch


def test_size_limits_skip_and_subsample_and_say_so():
    w = WeightMatrix("big", block_diagonal(2, 10, 2).double().numpy(), (20, 4))
    row = analyse_matrix(w, n_shuffle=8, limits=Limits(louvain_max_nodes=10, null_max_nodes=10,
                                                       large_n_shuffle=3))
    assert row["q"] is None and row["n_shuffle"] == 3 and row["q_spectral"] > 0.4
    assert any("Louvain Q skipped" in n for n in row["notes"])
    assert any("subsampled to 3 shuffles" in n for n in row["notes"])
    skipped = analyse_matrix(w, limits=Limits(max_nodes=10))
    assert skipped["skipped"] and "skipped: 20 post neurons > 10" in skipped["notes"]


class Evil:
    """Unpickling this runs a shell command: analyze must refuse it, not run it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("legacy, needle", [
    (False, "pickles posix.system, which is refused"),   # torch.save's zip format
    (True, "the weights-only unpickler refused it"),     # a bare pickle.dumps
])
def test_pickle_with_code_is_refused_and_never_run(tmp_path, legacy, needle):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"fc.weight": torch.ones(2, 2), "x": Evil(marker)}
    if legacy:
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    assert_one_line_error(invoke(path), needle)
    assert not marker.exists()
    # The payload is live: an unsafe load does run it (so the test above could fail).
    if legacy:
        pickle.loads(path.read_bytes())
    else:
        torch.load(path, weights_only=False)
    assert marker.exists()


def write(path, tensors):
    torch.save(tensors, path)
    return path


def put(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("setup, needle", [
    (lambda d: d / "missing.pt", "no such checkpoint"),
    (lambda d: d, "is a directory"),
    (lambda d: put(d / "empty.pt", b""), "is empty"),
    (lambda d: put(d / "w.npz", b"x"), "must end in one of"),
    (lambda d: put(d / "junk.pt", b"\x00garbage" * 10), "cannot read"),
    (lambda d: write(d / "int.pt", {"fc.weight": torch.ones(3, 4, dtype=torch.int64)}),
     "dtype int64; weights must be floating point"),
    (lambda d: write(d / "cplx.pt", {"fc.weight": torch.ones(3, 4, dtype=torch.complex64)}),
     "dtype complex64"),
    (lambda d: write(d / "bool.pt", {"fc.weight": torch.ones(3, 4, dtype=torch.bool)}),
     "dtype bool"),
    (lambda d: write(d / "vec.pt", {"a.bias": torch.ones(3), "b.weight": torch.ones(4)}),
     "holds no weight matrices"),
    (lambda d: write(d / "nan.pt", {"fc.weight": torch.tensor([[1.0, float("nan")], [1.0, 2.0]])}),
     "non-finite"),
    (lambda d: write(d / "inf.pt", {"fc.weight": torch.tensor([[1.0, float("inf")], [1.0, 2.0]])}),
     "non-finite"),
    (lambda d: write(d / "tensor.pt", torch.ones(3, 3)), "not a state_dict"),
    (lambda d: write(d / "none.pt", {"epoch": 3}), "holds no tensors"),
])
def test_malformed_files_are_one_line_errors(tmp_path, setup, needle):
    assert_one_line_error(invoke(setup(tmp_path)), needle)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_truncated_files_are_one_line_errors(tmp_path, mlp_pt, suffix):
    full = tmp_path / f"full{suffix}"
    state = torch.load(mlp_pt, weights_only=True)
    save_file(state, str(full)) if suffix == ".safetensors" else torch.save(state, full)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert_one_line_error(invoke(cut), "cannot read")


def test_bad_sidecar_and_options_are_one_line_errors(tmp_path, mlp_pt):
    save_file({"w": torch.randn(2, 3, 4)}, str(tmp_path / "g.safetensors"))
    (tmp_path / "g.json").write_text("[{")
    assert_one_line_error(invoke(tmp_path / "g.safetensors"), "not valid JSON")
    assert_one_line_error(invoke(mlp_pt, "--n-shuffle", "1"), "--n-shuffle must be >= 2")
    assert_one_line_error(invoke(mlp_pt, "--k", "0"), "k must be >= 1")


def test_readme_snippet_report_of_your_checkpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save(nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 4)).state_dict(),
               "my_model.pt")
    result = runner.invoke(app, ["analyze", "my_model.pt", "--report", "modularity_report"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "modularity_report" / "report.html").exists()
