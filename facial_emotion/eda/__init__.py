"""Exploratory analysis of the ingested faces: statistics (numpy) and figures (matplotlib), used by
notebooks/eda.ipynb so the notebook itself stays a thin, readable report."""
