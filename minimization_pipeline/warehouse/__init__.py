"""Warehouses behind one interface: the embedded DuckDB default (Snowflake follows)."""

from minimization_pipeline.warehouse.base import TableRef, Warehouse, WarehouseLockedError, WarehouseSession

__all__ = ["TableRef", "Warehouse", "WarehouseLockedError", "WarehouseSession"]
