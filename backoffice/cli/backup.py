"""Backups of the store's database: create and restore."""
