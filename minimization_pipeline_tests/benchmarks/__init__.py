"""Benchmarks (``make bench``): Adult k-anonymity against PyPI peers, and RAW_SAFE at 1M/10M demo users.

Run everything with ``python -m minimization_pipeline_tests.benchmarks``; see README.md in this folder.
Only ``test_bench_smoke.py`` runs in the normal test suite (our engine on a small Adult sample).
"""
