"""Tests against real store servers (peers); a package so that its conftest does not shadow tests/conftest.py."""
