"""The command line on the bundled sample data: every table with its documented columns, values
equal to the library's own results, a self-contained report, a recipe saved in the app that
reproduces the app's tables, and one-line errors for bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics.episodes import derive_episodes, filter_episodes
from analytics.ingest.load import load_caseload
from analytics.output import export
from analytics.output.methods import event_counts
from analytics.practice.overview import headline
from analytics.recipe import Recipe
from analytics.survival.curves import cumulative_incidence, kaplan_meier, logrank
from tests.analytics.ingest.test_fhir import BUNDLE
from tests.command_line import run_cli
from tests.paths import ROOT
from ui import state

SAMPLE = {t: ROOT / "sample_data" / f"{t}.csv" for t in ("sessions", "clients", "therapists")}
RECIPE = {
    "km_group": "court_mandated",
    "covariates": ["age", "court_mandated", "env_privacy"],
}

# The column contracts in /tmp/common.md (written out here so a drift in any module fails this test).
COLUMNS = {
    "km": ["group", "time", "at_risk", "events", "censored", "survival", "ci_lower", "ci_upper"],
    "km_medians": ["group", "n", "events", "median", "ci_lower", "ci_upper"],
    "logrank": ["comparison", "statistic", "df", "p", "p_adjusted"],
    "cif": ["group", "time", "cif_dropout", "cif_dropout_lower", "cif_dropout_upper",
            "cif_completed", "cif_completed_lower", "cif_completed_upper"],
    "cif_overstatement": ["group", "time", "one_minus_km", "cif_dropout", "difference"],
    "cox": ["term", "coef", "hr", "se", "robust_se", "hr_ci_lower", "hr_ci_upper", "p"],
    "ph_test": ["term", "statistic", "df", "p"],
    "table_one": ["variable", "level", "group", "n", "percent", "mean", "sd", "median", "q1", "q3", "missing",
                  "suppressed"],
    "table_one_smd": ["variable", "smd"],
    "rmst": ["group", "tau", "rmst", "se", "ci_lower", "ci_upper"],
    "rmst_contrasts": ["comparison", "measure", "estimate", "ci_lower", "ci_upper", "p"],
    "finegray": ["term", "coef", "shr", "se", "shr_ci_lower", "shr_ci_upper", "p"],
    "logistic": ["term", "or", "ci_lower", "ci_upper", "p"],
    # the contract's columns plus `known` (clients with a known outcome, the funnel's x axis) and `suppressed`
    "therapists": ["therapist_id", "clients", "known", "dropouts", "rate", "shrunk_rate", "ci_lower", "ci_upper",
                   "outside_95", "outside_998", "zone", "flag", "suppressed"],
    "icc": ["therapist_var", "icc", "ci_lower", "ci_upper", "method"],
    "therapist_effects": ["therapist_id", "effect", "ci_lower", "ci_upper"],
}


def sample_args(**override):
    files = {**SAMPLE, **override}
    return [x for t, p in files.items() if p is not None for x in (f"--{t}", p)]


def read(path) -> pd.DataFrame:
    return pd.read_csv(path, float_precision="round_trip")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle")
    config = out.parent / "recipe_in.json"
    config.write_text(json.dumps(RECIPE))
    figures = [] if export.renderer_problem() is None else ["--no-figures"]
    done = run_cli("report", *sample_args(), "--config", config, "--out", out, *figures)
    assert done.returncode == 0, done.stderr
    return out, done


@pytest.fixture(scope="module")
def library():
    """The same analysis through the library, in this process."""
    result = load_caseload({t: str(p) for t, p in SAMPLE.items()})
    recipe = Recipe.from_dict(RECIPE)
    episodes = filter_episodes(derive_episodes(result.caseload, recipe.episodes), **recipe.filter_kwargs())
    return result, recipe, episodes


def test_every_table_has_its_documented_columns(bundle):
    out, done = bundle
    assert done.stdout.startswith("Wrote ") and done.stderr == ""
    for stem, columns in COLUMNS.items():
        path = out / "tables" / f"{stem}.csv"
        assert path.exists(), f"{stem}.csv missing"
        assert list(read(path).columns) == columns, stem
    episodes = read(out / "tables" / "episodes.csv")
    assert {"client_id", "therapist_id", "event", "duration", "court_mandated"} <= set(episodes.columns)


def test_tables_equal_the_librarys_results(bundle, library):
    out, _ = bundle
    _, recipe, episodes = library
    assert len(read(out / "tables" / "episodes.csv")) == len(episodes)
    expected = kaplan_meier(episodes, "court_mandated").table
    pd.testing.assert_frame_equal(read(out / "tables" / "km.csv"), expected, check_dtype=False)
    expected = logrank(episodes, "court_mandated").table
    pd.testing.assert_frame_equal(read(out / "tables" / "logrank.csv"), expected, check_dtype=False)
    expected = cumulative_incidence(episodes, "court_mandated").table
    pd.testing.assert_frame_equal(read(out / "tables" / "cif.csv"), expected, check_dtype=False)


def test_models_equal_the_librarys_results(bundle, library):
    out, recipe, episodes = bundle[0], library[1], library[2]
    from analytics.models.regression import fit_logistic

    logistic = fit_logistic(episodes, list(recipe.covariates), recipe.reference_levels)
    shown = read(out / "tables" / "logistic.csv")
    assert shown["term"].tolist() == logistic.table["term"].tolist()
    assert shown["or"].tolist() == pytest.approx(logistic.table["or"].tolist(), rel=1e-9)
    from analytics.survival.cox import fit_cox

    cox = fit_cox(episodes, list(recipe.covariates), recipe.reference_levels, cluster="therapist_id")
    shown = read(out / "tables" / "cox.csv")
    assert shown["hr"].tolist() == pytest.approx(cox.table["hr"].tolist(), rel=1e-9)
    assert shown["robust_se"].tolist() == pytest.approx(cox.table["robust_se"].tolist(), rel=1e-9)


def test_therapist_counts_below_the_threshold_are_blank(bundle, library):
    from analytics.practice.therapists import therapist_funnel

    funnel = therapist_funnel(library[2]).table
    shown = read(bundle[0] / "tables" / "therapists.csv")
    assert shown["therapist_id"].tolist() == funnel["therapist_id"].tolist()
    small = funnel["dropouts"].between(1, 10)
    assert small.any() and shown.loc[small, "dropouts"].isna().all() and shown.loc[small, "rate"].isna().all()
    assert shown.loc[small, "suppressed"].all()
    kept = shown["rate"].notna()
    assert kept.sum() > 10
    assert shown.loc[kept, "rate"].tolist() == pytest.approx(funnel.loc[kept, "rate"].tolist(), rel=1e-12)
    assert shown["clients"].isna().sum() == 0  # every therapist here has at least 11 clients


def test_recipe_methods_and_report(bundle, library):
    out, _ = bundle
    result, _, episodes = library
    saved = json.loads((out / "recipe.json").read_text())
    assert saved["data_fingerprint"] == result.caseload.fingerprint
    assert saved["covariates"] == RECIPE["covariates"]
    assert saved["versions"]["pandas"] == pd.__version__
    counts = event_counts(episodes)
    methods = (out / "methods.md").read_text()
    assert f"The analysis used {counts['episodes']:,} client episodes" in methods
    assert f"There were {counts['dropouts']:,} dropouts" in methods
    ended = counts["dropouts"] + counts["completed"]
    rate = f"{100 * counts['dropouts'] / ended:.1f}%"  # of ended episodes, as on the Overview
    assert f"The dropout rate was {rate} (95% CI" in methods and f"of the {ended:,} episodes that ended" in methods
    assert headline(episodes).takeaway.startswith(f"{rate} (95% CI")
    assert "[RECORD 7.1; TRIPOD 6a]" in methods
    icc = read(out / "tables" / "icc.csv").iloc[0]
    assert f"ICC = {icc['icc']:.3f} (95% CI {icc['ci_lower']:.3f} to {icc['ci_upper']:.3f})" in methods
    page = (out / "report.html").read_text()
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert "MathJax.Hub" not in page and "fonts.googleapis" not in page
    assert "Plotly.newPlot" in page or "Plotly.react" in page
    assert len(page) > 3_000_000  # plotly.js itself is inlined


def test_figures_are_written(bundle):
    out, _ = bundle
    if export.renderer_problem():
        if os.environ.get("CI") == "true":
            pytest.fail("CI must render figures: " + export.renderer_problem())
        pytest.skip(export.renderer_problem())
    for stem in ("km", "cif", "cox_forest", "ph_residuals", "logistic_forest", "funnel", "caterpillar"):
        assert (out / "figures" / f"{stem}.svg").read_bytes().lstrip().startswith(b"<svg")
        assert (out / "figures" / f"{stem}.pdf").read_bytes().startswith(b"%PDF-")
        width, height = export.png_size((out / "figures" / f"{stem}.png").read_bytes())
        assert width == 1004 and height >= 827  # 85 x 70 mm at 300 dpi, taller where rows need it
    assert export.png_size((out / "figures" / "cif.png").read_bytes()) == (1004, 827)
    caterpillar = export.png_size((out / "figures" / "caterpillar.png").read_bytes())
    assert caterpillar[1] > 1500  # 30 therapists at 8 pt do not fit in 70 mm


def test_help_documents_the_report_command():
    """The real entry point (`python -m analytics`, in a new interpreter) once; run_cli runs main()."""
    done = subprocess.run([sys.executable, "-m", "analytics", "--help"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert done.returncode == 0 and "report" in done.stdout
    done = run_cli("report", "--help")
    for option in ("--sessions", "--clients", "--therapists", "--config", "--out", "--drop-identifiers"):
        assert option in done.stdout


# --- bad input ---------------------------------------------------------------------------------

def one_line_error(done) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_missing_file(tmp_path):
    line = one_line_error(run_cli("report", "--clients", tmp_path / "nope.csv", "--out", tmp_path / "o"))
    assert "nope.csv" in line and "--clients" in line


def test_no_data_file(tmp_path):
    line = one_line_error(run_cli("report", "--therapists", SAMPLE["therapists"], "--out", tmp_path / "o"))
    assert "--sessions" in line and "--clients" in line


def test_bad_recipe_names_file_and_key(tmp_path):
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({"colour": "red"}))
    line = one_line_error(run_cli("report", *sample_args(), "--config", config, "--out", tmp_path / "o"))
    assert "recipe.json" in line and "'colour'" in line and "allowed keys" in line


def test_missing_required_column_names_file_and_column(tmp_path):
    sessions = pd.read_csv(SAMPLE["sessions"]).drop(columns=["status"])
    path = tmp_path / "visits.csv"
    sessions.to_csv(path, index=False)
    line = one_line_error(run_cli("report", "--sessions", path, "--out", tmp_path / "o"))
    assert "visits.csv" in line and "status" in line


def test_unreadable_file(tmp_path):
    path = tmp_path / "clients.csv"
    path.write_bytes(b"\x00\x01\x02\xff\xfe garbage")
    one_line_error(run_cli("report", "--clients", path, "--out", tmp_path / "o"))


@pytest.mark.parametrize("command", ["report", "summary"])
def test_an_out_that_cannot_be_written_is_one_line(tmp_path, command):
    """--out under a file is said before the run; a folder that cannot be made is said when the
    report is written: a line naming it, not NotADirectoryError or FileNotFoundError."""
    a_file = tmp_path / "report.txt"
    a_file.write_text("")
    out = a_file / "summary.pdf" if command == "summary" else a_file
    line = one_line_error(run_cli(command, *sample_args(), "--out", out))
    assert line == f"error: --out: {a_file} is a file, not a folder; give another place, e.g. --out " + (
        f"{tmp_path / 'summary.pdf'}." if command == "summary" else f"{tmp_path / 'report'}.")
    nowhere = Path("/proc/alliance-lens") / ("summary.pdf" if command == "summary" else "out")
    line = one_line_error(run_cli(command, *sample_args(), "--out", nowhere, *(["--no-figures"] if command == "report" else [])))
    assert line == (f"error: --out {nowhere}: the " + ("PDF" if command == "summary" else "report") +
                    " could not be written (No such file or directory); give " +
                    ("a path" if command == "summary" else "a folder") + " you can write to.")


def test_usage_error_is_one_line(tmp_path):
    done = run_cli("report", "--clients", SAMPLE["clients"])  # no --out
    assert done.returncode == 2 and "--out" in one_line_error(done)


def test_identifiers_refused_then_dropped(tmp_path):
    clients = pd.read_csv(SAMPLE["clients"])
    clients["email"] = [f"client{i}@example.org" for i in range(len(clients))]
    path = tmp_path / "clients.csv"
    clients.to_csv(path, index=False)
    args = ["report", *sample_args(clients=path), "--no-figures"]
    line = one_line_error(run_cli(*args, "--out", tmp_path / "refused"))
    assert "email" in line and "--drop-identifiers" in line
    assert not (tmp_path / "refused").exists()
    done = run_cli(*args, "--out", tmp_path / "dropped", "--drop-identifiers")
    assert done.returncode == 0, done.stderr
    episodes = read(tmp_path / "dropped" / "tables" / "episodes.csv")
    assert "email" not in episodes.columns and len(episodes) == len(clients)


# --- a recipe saved in the app reproduces the app's tables on the command line ----------------

def test_recipe_saved_in_app_reproduces_app_tables(tmp_path):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.switch_page("pages/export.py").run()  # loads the sample data (which resets the choices below)
    at.session_state[state.DEFINITION] = "unilateral"
    at.session_state[state.ONGOING_WINDOW] = 60
    at.session_state[state.KM_GROUP] = "referral"
    at.session_state[state.COVARIATES] = ["age", "referral"]
    at.session_state[state.REFERENCE_LEVELS] = {"referral": "self"}
    at.session_state[state.FILTER_SITES] = ["Site A", "Site B"]
    at.run()
    assert not at.exception, at.exception
    recipe = Recipe.from_json(at.code[0].value)
    assert recipe.episodes.dropout_definition == "unilateral" and recipe.filters["sites"] == ["Site A", "Site B"]
    next(b for b in at.button if b.label == "Build report bundle").click().run()
    assert not at.exception, at.exception
    app_zip = zipfile.ZipFile(io.BytesIO(at.session_state["export_bundle"][1]))

    config = tmp_path / "recipe.json"
    config.write_text(at.code[0].value)
    done = run_cli("report", *sample_args(), "--config", config, "--out", tmp_path / "cli", "--no-figures")
    assert done.returncode == 0, done.stderr
    tables = sorted(p.name for p in (tmp_path / "cli" / "tables").iterdir())
    assert {"km.csv", "logrank.csv", "cif.csv", "logistic.csv", "episodes.csv"} <= set(tables)
    for name in tables:
        assert app_zip.read(f"alliance_lens_report/tables/{name}") == (tmp_path / "cli" / "tables" / name).read_bytes(), name
    cli_recipe = json.loads((tmp_path / "cli" / "recipe.json").read_text())
    assert cli_recipe["data_fingerprint"] == recipe.data_fingerprint


def test_a_model_that_cannot_be_fitted_is_a_warning_not_a_failure(tmp_path):
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({"km_group": "referral", "covariates": ["age", "no_such_column"],
                                  "filters": {"therapists": ["T001"]}}))
    done = run_cli("report", *sample_args(), "--config", config, "--out", tmp_path / "o", "--no-figures")
    assert done.returncode == 0, done.stderr
    tables = {p.stem for p in (tmp_path / "o" / "tables").iterdir()}
    assert {"episodes", "km", "logrank", "cif", "therapists"} <= tables
    assert not tables & {"cox", "logistic", "icc"}
    page = (tmp_path / "o" / "report.html").read_text()
    cox = page.split("<h2>Cox proportional hazards model")[1].split("<h2>")[0]
    assert "could not be run: These columns are not in the episodes table: no_such_column." in cox
    assert len(read(tmp_path / "o" / "tables" / "episodes.csv")) == (
        pd.read_csv(SAMPLE["clients"])["therapist_id"] == "T001").sum()


def test_engine_refuses_the_options_read_only_in_memory(tmp_path):
    line = one_line_error(run_cli("report", *sample_args(), "--engine", "duckdb", "--sheet", "sessions=Appointments",
                                  "--drop-identifiers", "--out", tmp_path / "o"))
    assert line.startswith("error: --sheet, --drop-identifiers: Excel sheets and the direct-identifier scan")


def test_map_out_under_a_file_and_fhir_files_named_once(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("")
    line = one_line_error(run_cli("map", *sample_args(), "--out", a_file / "mapping.json"))
    assert line == f"error: --out: {a_file} is a file, not a folder; give another place, e.g. --out {tmp_path / 'mapping.json'}."
    done = run_cli("map", *sample_args(), "--out", tmp_path / "new" / "mapping.json")
    assert done.returncode == 0 and json.loads((tmp_path / "new" / "mapping.json").read_text())["sessions"]
    bundle = tmp_path / "bundle.json"  # gives the sessions and the clients: one file, named once
    bundle.write_text(json.dumps(BUNDLE))
    done = run_cli("map", "--sessions", bundle, "--out", tmp_path / "fhir.json")
    assert done.stdout.startswith(f"Wrote the mapping of bundle.json to {tmp_path / 'fhir.json'}.")
