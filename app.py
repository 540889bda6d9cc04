"""The Streamlit app: chat with the reports, browse the library, see the evaluation.

Run with `make run` (builds the index if needed) or `streamlit run app.py`.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Employer engagement evidence assistant", page_icon="📚", layout="centered")

navigation = st.navigation(
    [
        st.Page("pages/chat.py", title="Ask the reports", icon=":material/forum:", default=True),
        st.Page("pages/reports.py", title="Reports", icon=":material/menu_book:", url_path="reports"),
        st.Page("pages/evaluation.py", title="Evaluation", icon=":material/analytics:", url_path="evaluation"),
    ]
)
navigation.run()
