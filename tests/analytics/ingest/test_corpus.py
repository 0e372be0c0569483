"""Every malformed or hostile input of tests/corpus gets its expected outcome, never a traceback:
through the importer (`load_caseload`), through the models (warnings, not exceptions) and through
the command line (exit code, one plain line on stderr)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from tests.command_line import run_cli
from tests.corpus.cases import EITHER, ERROR, USABLE, cases, write_case

CASES = {case.name: case for case in cases()}
MODEL_CASES = [name for name, case in CASES.items() if case.model]
MAX_MESSAGE = 1000
FORMULA_START = ("=", "+", "@", "\t", "\r")


def _mentioned(text: str, mentions) -> bool:
    text = text.lower()
    return all(any(alt.lower() in text for alt in ((m,) if isinstance(m, str) else m)) for m in mentions)


def _load(case):
    from analytics.ingest.load import load_caseload

    return load_caseload(dict(case.files), **case.load_kwargs)


@pytest.mark.parametrize("name", list(CASES))
def test_importer_outcome(name):
    case = CASES[name]
    result = _load(case)
    texts = [p.as_text() for p in result.problems]
    for text in texts:
        assert "\n" not in text and len(text) <= MAX_MESSAGE and "Traceback" not in text, f"not one short line: {text[:300]}"
    errors = [p.as_text() for p in result.problems if p.severity == "error"]
    listing = "\n".join(texts) or "(no problems)"
    if case.outcome == ERROR:
        assert result.caseload is None, f"{name}: analysis should be blocked; problems:\n{listing}"
        assert errors, f"{name}: blocked without an error saying why:\n{listing}"
        assert any(_mentioned(t, case.mentions) for t in texts), f"{name}: no problem mentions {case.mentions}:\n{listing}"
    elif case.outcome == USABLE:
        assert result.caseload is not None and not errors, f"{name}: the valid rest should stay usable:\n{listing}"
        if case.mentions:
            assert any(_mentioned(t, case.mentions) for t in texts), f"{name}: no problem mentions {case.mentions}:\n{listing}"
    else:
        assert case.outcome == EITHER
        assert any(_mentioned(t, case.mentions) for t in texts), f"{name}: no problem mentions {case.mentions}:\n{listing}"


def _episodes(name):
    from analytics.episodes import EpisodeSettings, derive_episodes

    result = _load(CASES[name])
    assert result.caseload is not None, [p.as_text() for p in result.problems]
    return derive_episodes(result.caseload, EpisodeSettings(dropout_definition="therapist_judged"))


def _warned(result, *words) -> str:
    text = " ".join(result.warnings).lower()
    assert result.warnings, f"{type(result).__name__} gave no warning"
    if words:
        assert any(w in text for w in words), f"{type(result).__name__} warnings do not mention {words}: {result.warnings}"
    return text


@pytest.mark.parametrize("name", MODEL_CASES)
def test_models_warn_instead_of_failing(name):
    episodes = _episodes(name)
    model = CASES[name].model
    if model == "episodes":
        assert len(episodes) == CASES[name].files["clients"][1].count(b"\n") - 1
    elif model == "no_dropouts":
        from analytics.models.regression import fit_logistic
        from analytics.survival.cox import fit_cox
        from analytics.survival.curves import kaplan_meier

        assert (episodes["event"] == 1).sum() == 0
        _warned(kaplan_meier(episodes), "dropout", "event")
        _warned(fit_cox(episodes, ["age"]), "dropout", "event")
        _warned(fit_logistic(episodes, ["age"]), "dropout", "event", "outcome")
    elif model == "single_cluster":
        from analytics.models.random_intercept import fit_random_intercept
        from analytics.survival.cox import fit_cox

        assert episodes["therapist_id"].nunique() == 1
        _warned(fit_cox(episodes, ["age"], cluster="therapist_id"), "therapist", "cluster")
        _warned(fit_random_intercept(episodes), "therapist", "cluster")
    elif model == "single_group":
        from analytics.survival.curves import logrank

        assert episodes["site"].nunique() == 1
        _warned(logrank(episodes, "site"), "group", "site")
    elif model == "constant_covariates":
        from analytics.models.regression import fit_logistic
        from analytics.survival.cox import fit_cox

        covariates = ["age", "gender", "referral", "court_mandated"]
        for fitted in (fit_cox(episodes, covariates), fit_logistic(episodes, covariates)):
            text = _warned(fitted, "constant", "same value")
            missing = [c for c in covariates if c not in text]
            assert not missing, f"{type(fitted).__name__}: no warning names the constant {missing}: {fitted.warnings}"
    elif model == "separation":
        from analytics.models.regression import fit_logistic
        from analytics.survival.cox import fit_cox

        _warned(fit_logistic(episodes, ["court_mandated"]), "separat")
        _warned(fit_cox(episodes, ["court_mandated"]), "separat", "converge", "infinite")
    else:
        raise AssertionError(f"unknown model check {model}")


# --- the command line -----------------------------------------------------------------------------

def cli_arguments(paths: dict[str, str], out: Path, case) -> list[str]:
    """The arguments of `python -m analytics` for a case's files (figures off: they are tested elsewhere).

    The command line has no per-column choice: a case that drops or hashes identifiers in the
    importer runs with --drop-identifiers.
    """
    arguments = ["report", "--out", str(out), "--no-figures"]
    for table, path in paths.items():
        arguments += [f"--{table}", path]
    if case.load_kwargs.get("drop_columns") or case.load_kwargs.get("hash_columns"):
        arguments.append("--drop-identifiers")
    return arguments


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """All cases through the command line, two at a time (each is its own process: run_cli)."""
    base = tmp_path_factory.mktemp("corpus")

    def run(name):
        case = CASES[name]
        out = base / name / "out"
        return name, (run_cli(*cli_arguments(write_case(case, base / name / "in"), out, case)), out)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize("name", list(CASES))
def test_command_line_outcome(name, cli_runs):
    case = CASES[name]
    done, out = cli_runs[name]
    stderr = done.stderr.strip()
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, f"{name}: traceback:\n{done.stderr[-2000:]}"
    if case.outcome == ERROR or (case.outcome == EITHER and done.returncode != 0):
        assert done.returncode != 0, f"{name}: should exit non-zero"
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1, f"{name}: stderr should be one line, got:\n{stderr[:2000]}"
        assert len(lines[0]) <= MAX_MESSAGE
        if case.outcome == ERROR:
            assert _mentioned(lines[0], case.mentions), f"{name}: stderr does not mention {case.mentions}: {lines[0]}"
    else:
        assert done.returncode == 0, f"{name}: exit {done.returncode}, stderr:\n{stderr[:2000]}"
        assert out.exists() and any(out.rglob("*.csv")), f"{name}: no tables written to {out}"


def test_command_line_output_neutralises_formulas(cli_runs):
    """No cell of a written CSV starts like a spreadsheet formula (=, +, @)."""
    done, out = cli_runs["formula_injection_strings"]
    assert done.returncode == 0, done.stderr[-2000:]
    for path in out.rglob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        cells = pd.concat([frame[c] for c in frame.columns]) if len(frame.columns) else pd.Series(dtype=str)
        bad = cells[cells.str.startswith(FORMULA_START)]
        assert bad.empty, f"{path.name}: formula-like cells {bad.head().tolist()}"
