"""Connect.Post Planner — the Streamlit app: ``streamlit run app.py`` from the repository root (planner/ui/)."""

from planner.ui.shell import main

main()
