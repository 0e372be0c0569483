"""Optional OIDC sign-in: off without [auth]; with it, nothing shows before sign-in, and it fails closed."""

import pytest
from streamlit.testing.v1 import AppTest

import ui.auth

SCRIPT = """
import streamlit as st
from ui import auth
auth.require_login()
st.write("caseload table")
"""
AUTH = {
    "redirect_uri": "https://lens.clinic.example/oauth2callback",
    "cookie_secret": "a-long-random-secret-of-at-least-32-chars",
    "microsoft": {"client_id": "id", "client_secret": "secret",
                  "server_metadata_url": "https://login.microsoftonline.com/x/v2.0/.well-known/openid-configuration"},
}


def run(secrets=None, user=None):
    at = AppTest.from_string(SCRIPT)
    if secrets:
        at.secrets["auth"] = secrets
    if user is not None:
        at.user = user
    return at.run()


def shown(at):
    return [m.value for m in at.markdown]


def test_without_auth_section_the_app_runs_open():
    at = run()
    assert shown(at) == ["caseload table"] and not at.exception and len(at.button) == 0


def test_configured_but_authlib_missing_stops_with_install_advice(monkeypatch):
    monkeypatch.setattr(ui.auth, "authlib_available", lambda: False)
    at = run(AUTH, {"is_logged_in": True, "email": "dr@clinic.example"})
    assert "caseload table" not in shown(at)
    assert "Authlib" in at.error[0].value


def test_signed_out_visitor_sees_only_the_sign_in_button(monkeypatch):
    monkeypatch.setattr(ui.auth, "authlib_available", lambda: True)
    at = run(AUTH, {"is_logged_in": False})
    assert "caseload table" not in shown(at) and not at.exception
    assert [b.label for b in at.button] == ["Sign in with Microsoft"]


def test_signed_in_visitor_sees_the_app_and_a_log_out_button(monkeypatch):
    monkeypatch.setattr(ui.auth, "authlib_available", lambda: True)
    at = run(AUTH, {"is_logged_in": True, "email": "dr@clinic.example"})
    assert "caseload table" in shown(at) and not at.exception
    assert [b.label for b in at.sidebar.button] == ["Log out"]
    assert "dr@clinic.example" in at.sidebar.caption[0].value


@pytest.mark.parametrize("section, expected", [
    ({"redirect_uri": "u", "cookie_secret": "c", "client_id": "i", "client_secret": "s", "server_metadata_url": "m"}, [None]),
    (AUTH, ["microsoft"]),
])
def test_providers_default_or_named(section, expected):
    assert ui.auth.providers(section) == expected
