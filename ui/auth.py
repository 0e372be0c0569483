"""Optional sign-in through the clinic's OpenID Connect provider (`st.login`).

A clinic that serves the dashboard to colleagues adds an `[auth]` section to
`.streamlit/secrets.toml`; from then on nothing renders until the visitor has signed in.
Without that section (one person on their own machine) sign-in is off. When sign-in is
configured but cannot work (Authlib missing), the app stops instead of running open.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

import streamlit as st

# Keys of [auth] that configure the flow itself rather than naming a provider.
SHARED_KEYS = ("redirect_uri", "cookie_secret", "expose_tokens", "client_id", "client_secret",
               "server_metadata_url", "client_kwargs")


def auth_section() -> Mapping | None:
    """The `[auth]` secrets section, or None when sign-in is not configured."""
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:
        return None
    return section if isinstance(section, Mapping) and section else None


def providers(section: Mapping) -> list[str | None]:
    """Named providers (`[auth.google]`, `[auth.microsoft]`, ...), or [None] for the default one."""
    named = [key for key, value in section.items() if isinstance(value, Mapping) and key not in SHARED_KEYS]
    return named or [None]


def authlib_available() -> bool:
    """`st.login` needs Authlib; without it a configured sign-in cannot work."""
    return importlib.util.find_spec("authlib") is not None


def require_login() -> None:
    """Stop the app until the visitor is signed in, when the clinic configured sign-in; else do nothing."""
    section = auth_section()
    if section is None:
        return
    if not authlib_available():
        st.error("Sign-in is configured in .streamlit/secrets.toml but the Authlib package is missing. "
                 "Install it with `pip install \"Authlib>=1.3.2\"` and restart the dashboard.")
        st.stop()
    if st.user.get("is_logged_in", False):
        who = st.user.get("email") or st.user.get("name") or "signed in"
        st.sidebar.caption(f"Signed in: {who}")
        st.sidebar.button("Log out", on_click=st.logout, key="auth_logout")
        return
    st.title("Alliance Lens")
    st.write("This dashboard shows clinical data. Sign in with your clinic account to continue.")
    for provider in providers(section):
        label = "Sign in" if provider is None else f"Sign in with {provider.title()}"
        st.button(label, on_click=st.login, args=() if provider is None else (provider,), key=f"auth_login_{provider}")
    st.stop()
