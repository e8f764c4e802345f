"""Truss Chains and Python-file models, read with ast and never run: the files, then the chainlets as fields."""
