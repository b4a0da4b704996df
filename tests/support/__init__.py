"""Helpers only the tests use (not part of the package users install). What tests and benchmarks
share lives in benchmarks/ (benchmarks/support/, benchmarks/common.py): benchmarks never import tests."""
