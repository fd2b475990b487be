"""Reports: saved report definitions (source, columns, filters, group-by, aggregates, chart), their
compilation to SQLAlchemy Core queries that aggregate in the database, exporters (XLSX, CSV, PDF) and the
scheduler that delivers them by email or to a shared folder. Filled in by the reports feature."""
