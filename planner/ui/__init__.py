"""The user interface: the Streamlit app's shell, pages and shared state and widgets.

This is the only layer of the package that imports streamlit and plotly (and typer, in ``cli.py``); the
modules outside it hold the model logic and know nothing of the interface.
"""
