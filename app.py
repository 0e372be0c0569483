"""Alliance Lens: the Streamlit entry point. Navigation and the shared sidebar; no analysis here."""

import streamlit as st

from ui import auth, imports, navigation, sessions, sidebar, state, style

st.set_page_config(page_title="Alliance Lens", layout="wide")
style.apply()
sessions.start_sweeper()
auth.require_login()
state.keep_widget_values()

PAGES = {section: [st.Page(file, title=title, default=file == navigation.DEFAULT) for file, title in pages]
         for section, pages in navigation.SECTIONS.items()}

page = st.navigation(PAGES)
imports.run_pending()  # before the sidebar: an import changes settings its widgets show
sidebar.render()
page.run()
