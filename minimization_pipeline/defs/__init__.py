"""Dagster wiring: every module here only connects the pure pipeline to Dagster."""
