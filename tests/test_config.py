"""The hardened Streamlit settings stay hardened (a loosened value fails here, not in production)."""

import tomllib

from tests.paths import ROOT

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_served_on_this_machine_only_with_request_forgery_protection():
    server = CONFIG["server"]
    assert server["address"] == "localhost"
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert server["enableStaticServing"] is False and server["enableAgentApi"] is False
    assert server["maxUploadSize"] >= 1000


def test_no_telemetry_and_no_error_details_or_outside_links_in_the_browser():
    assert CONFIG["browser"]["gatherUsageStats"] is False
    assert CONFIG["client"]["showErrorDetails"] == "none"
    assert CONFIG["client"]["showErrorLinks"] is False
    assert CONFIG["client"]["toolbarMode"] == "viewer"


def test_no_file_watching_and_no_garbage_collection_after_every_run():
    """Both cost the server's one interpreter lock in every session (docs/scale.md): a full
    collection after each script run took 0.12-0.19 s; memory is given back when sessions go
    (ui/sessions.py)."""
    assert CONFIG["server"]["fileWatcherType"] == "none"
    assert CONFIG["runner"]["postScriptGC"] is False
