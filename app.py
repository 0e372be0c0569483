"""Alliance Lens: the Streamlit entry point. Navigation and the shared sidebar; no analysis here."""

import streamlit as st

from ui import auth, imports, sessions, sidebar, state, style

st.set_page_config(page_title="Alliance Lens", layout="wide")
style.apply()
sessions.start_sweeper()
auth.require_login()
state.keep_widget_values()

PAGES = {
    "Practice": [
        st.Page("pages/overview.py", title="Overview", default=True),
        st.Page("pages/outcomes.py", title="Outcomes"),
        st.Page("pages/alliance.py", title="Alliance and ruptures"),
        st.Page("pages/room_match.py", title="Room, match and habits"),
        st.Page("pages/watch_list.py", title="Watch list"),
        st.Page("pages/therapists.py", title="Therapists"),
    ],
    "Research": [
        st.Page("pages/survival.py", title="Survival"),
        st.Page("pages/drivers.py", title="Drivers of dropout"),
        st.Page("pages/export.py", title="Export and recipe"),
    ],
    "Data": [st.Page("pages/data.py", title="Data")],
}

page = st.navigation(PAGES)
imports.run_pending()  # before the sidebar: an import changes settings its widgets show
sidebar.render()
page.run()
