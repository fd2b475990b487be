"""Scheduled work without the app: register the periodic jobs with the OS scheduler of the current user."""
