"""Anonymization algorithms that run on small summaries (histograms) computed by the warehouse."""
