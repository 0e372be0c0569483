"""Shared test set-up.

AppTest resets Streamlit's "pages/ directory" flag before every run, so with a `pages/` folder it
falls back to the old multipage mode and `switch_page` runs a page file on its own, without
app.py (no sidebar, no sign-in gate). A real server clears that flag on the first `st.navigation`
call. The fixture below makes AppTest behave like the server, so page tests go through app.py.
"""

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import app_test


class _NavigationPagesManager(PagesManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


@pytest.fixture(autouse=True)
def _pages_through_app_py(monkeypatch):
    monkeypatch.setattr(app_test, "PagesManager", _NavigationPagesManager)
