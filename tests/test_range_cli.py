"""`modlab range-check`: verdicts, JSON output, the plot, and one-line errors for bad CSVs."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from modlab.cli import app
from modlab.tasks.sources import make_sources

runner = CliRunner()


def write_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(str(v) for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def band_csv(tmp_path):
    s = make_sources("band:1.2")
    rows = [(a, b, i % 3) for i, (a, b) in enumerate(s)]
    return write_csv(tmp_path / "band.csv", ["x", "y", "label"], rows)


def test_json_output_and_plot(band_csv, tmp_path):
    plot = tmp_path / "fig.png"
    result = runner.invoke(app, ["range-check", str(band_csv), "--columns", "x,y", "--json",
                                 "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["verdict"] == "mixed" and out["margin"] == pytest.approx(-0.4028, abs=1e-4)
    assert out["columns"] == ["x", "y"] and out["samples"] == 101
    assert plot.exists() and out["plot"] == str(plot)


def test_modular_grid_text_output_default_plot_path(tmp_path):
    path = write_csv(tmp_path / "grid.csv", ["a", "b"], make_sources("grid"))
    result = runner.invoke(app, ["range-check", str(path)])
    assert result.exit_code == 0, result.output
    assert "verdict: modular" in result.output
    assert (tmp_path / "grid.range.png").exists()


def test_three_columns_need_no_plot(tmp_path):
    path = write_csv(tmp_path / "three.csv", ["a", "b", "c"], make_sources("corner:1.0")[::7])
    result = runner.invoke(app, ["range-check", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["verdict"] == "mixed" and out["n_sources"] == 3 and out["plot"] is None


def test_repeated_columns_option(band_csv):
    result = runner.invoke(app, ["range-check", str(band_csv), "--columns", "y", "--columns", "x",
                                 "--json", "--no-plot"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["columns"] == ["y", "x"]


GOOD = [(0, 1), (1, 0), (2, 2), (3, 1)]


@pytest.mark.parametrize("header, rows, args, needle", [
    (["x", "y"], GOOD, ["--columns", "x,z"], "column 'z' not in"),
    (["x", "y"], [(0, 1), (1, "nan"), (2, 2)], [], "column 'y' has a NaN at row 2"),
    (["x", "y"], [(0, 1), (1, ""), (2, 2)], [], "column 'y' has a missing value at row 2"),
    (["x", "y"], [(0, 1), (1, "abc"), (2, 2)], [], "non-numeric value 'abc'"),
    (["x", "y"], [(0, 1), (1, 2)], [], "need at least 3 rows"),
    (["x", "y"], [(0, 1), (1, 1), (2, 1)], [], "column 'y' is constant"),
    (["x", "y"], GOOD, ["--columns", "x"], "need at least 2 source columns"),
])
def test_bad_csv_is_one_line_exit_2(tmp_path, header, rows, args, needle):
    path = write_csv(tmp_path / "bad.csv", header, rows)
    result = runner.invoke(app, ["range-check", str(path), *args])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], result.output
    assert "Traceback" not in result.output


def test_missing_file_is_one_line_exit_2(tmp_path):
    result = runner.invoke(app, ["range-check", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_plot_is_written_next_to_data_for_gaussian(tmp_path):
    s = np.round(make_sources("gaussian_clipped:0.8"), 6)
    path = write_csv(tmp_path / "g.csv", ["a", "b"], s)
    result = runner.invoke(app, ["range-check", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["verdict"] == "modular"
    assert (tmp_path / "g.range.png").exists()


def one_line_error(result, needle):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("content, needle", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks binary"),
    (b"x,y\n0,1\n\xff\xfe,0\n2,2\n", "is not UTF-8 text (byte 0xff"),
    (b"x,y,x\n0,1,2\n1,0,3\n2,2,1\n", "duplicate column name 'x' (fields 1 and 3)"),
    (b"x,,y\n0,1,2\n1,0,3\n2,2,1\n", "header field 2 is empty"),
    (b"x,y\n0,1\n1,0,7\n2,2\n", "row 2 (line 3) has 3 fields, more than the header's 2"),
    (b"", "is empty (expected a header row"),
    (b"\n\n", "is empty (expected a header row"),
    (b"x,y\n", "need at least 3 rows, bad.csv has only a header"),
    (b"x,y\n0,1\n1,inf\n2,2\n", "column 'y' has an infinite value at row 2"),
])
def test_unreadable_csv_is_one_line_exit_2(tmp_path, content, needle):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    one_line_error(runner.invoke(app, ["range-check", str(path), "--no-plot"]), needle)


def test_a_directory_is_not_a_csv(tmp_path):
    one_line_error(runner.invoke(app, ["range-check", str(tmp_path)]), "is a directory")


def test_utf8_bom_is_dropped_from_the_first_column_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffx,y\n".encode() + b"0,1\n1,0\n2,2\n3,1\n")
    result = runner.invoke(app, ["range-check", str(path), "--columns", "x,y", "--json",
                                 "--no-plot"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["columns"] == ["x", "y"]


def test_plot_without_extension_reports_the_png_it_wrote(band_csv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["range-check", str(band_csv), "--columns", "x,y",
                                 "--plot", "noext"])
    assert result.exit_code == 0, result.output
    assert "plot: noext.png" in result.output.splitlines()
    assert (tmp_path / "noext.png").exists() and not (tmp_path / "noext").exists()


@pytest.mark.parametrize("target, needle", [
    ("missing/dir/fig.png", "does not exist"),
    ("band.csv/fig.png", "is not a directory"),
    ("/proc/fig.png", "cannot write the plot '/proc/fig.png'"),
    ("fig.xyz", "has extension '.xyz'; allowed: "),
    (".", "is a directory"),
])
def test_unwritable_plot_path_is_one_line_exit_2(band_csv, tmp_path, monkeypatch, target, needle):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["range-check", str(band_csv), "--columns", "x,y",
                                 "--plot", target])
    one_line_error(result, needle)


def test_plot_for_three_columns_and_contradicting_flags_are_errors(band_csv, tmp_path):
    one_line_error(runner.invoke(app, ["range-check", str(band_csv), "--plot",
                                       str(tmp_path / "f.png")]), "2 sources only, got 3")
    one_line_error(runner.invoke(app, ["range-check", str(band_csv), "--columns", "x,y",
                                       "--plot", str(tmp_path / "f.png"), "--no-plot"]),
                   "contradict")


def test_text_output_states_interval_verdict_and_guarantee(band_csv):
    result = runner.invoke(app, ["range-check", str(band_csv), "--columns", "x,y", "--no-plot"])
    assert result.exit_code == 0, result.output
    lines = {line.split(":")[0]: line for line in result.output.splitlines()}
    assert lines["verdict"] == "verdict: mixed"
    assert lines["interval"].startswith("interval: [-0.40") and "finite-sample" in lines["interval"]
    assert "sample verdict: mixed" in lines["margin"]
    assert "certified" in lines["guarantee"] and "interval lies below 0" in lines["guarantee"]


def test_json_carries_the_interval_and_the_null_copies(band_csv):
    result = runner.invoke(app, ["range-check", str(band_csv), "--columns", "x,y", "--json",
                                 "--no-plot"])
    out = json.loads(result.output)
    lo, hi = out["interval"]
    assert lo <= out["margin"] <= hi < 0
    assert out["sample_verdict"] == "mixed" and len(out["null_margins"]) == 39
