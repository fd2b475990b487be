"""Dialogs: connection profiles and the password prompt."""
