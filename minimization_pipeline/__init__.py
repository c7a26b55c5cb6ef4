"""minimization_pipeline: pseudonymize and k-anonymize an analytics warehouse with Dagster and dbt."""

__version__ = "0.1.0"
