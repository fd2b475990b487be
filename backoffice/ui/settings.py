"""Where the GUI remembers window geometry and view state.

An INI file in the Backoffice config folder (``backoffice.config.config_dir()``), not Qt's default
location: one folder holds all user settings, and tests, which point ``BACKOFFICE_CONFIG_DIR`` at a
temporary folder, never read or write the real user's settings. Never holds a password.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from backoffice.config import config_dir

ORGANIZATION = "Backoffice"
APPLICATION = "backoffice"


def app_settings() -> QSettings:
    return QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)
