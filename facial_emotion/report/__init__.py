"""The report stage's library: per-model classification reports (inputs, analysis and figures used by
notebooks/classification_report.ipynb) and the one-page reports/index.html built from a Jinja2 template."""
