"""Colours and the light palette. Widgets use these names instead of literal colours; the theme is
applied by ``resources.apply_theme`` with the style sheet."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

ACCENT = "#2563eb"
ACCENT_HOVER = "#1d4ed8"
ACCENT_SOFT = "#e8effd"
SELECTION = "#dce7fb"
WINDOW = "#f5f6f8"
SURFACE = "#ffffff"
SURFACE_ALT = "#f8fafc"
BORDER = "#e1e5ea"
TEXT = "#1f2937"
TEXT_MUTED = "#6b7280"
TEXT_DISABLED = "#a3aab5"
SUCCESS = "#16a34a"
WARNING = "#d97706"
DANGER = "#dc2626"
CHANGED_BG = "#fff6e0"
BEFORE_FG = "#b42318"
AFTER_FG = "#067647"


def palette() -> QPalette:
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: WINDOW,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: SURFACE,
        QPalette.ColorRole.AlternateBase: SURFACE_ALT,
        QPalette.ColorRole.ToolTipBase: "#111827",
        QPalette.ColorRole.ToolTipText: "#f9fafb",
        QPalette.ColorRole.PlaceholderText: TEXT_DISABLED,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: SURFACE,
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: SELECTION,
        QPalette.ColorRole.HighlightedText: "#111827",
        QPalette.ColorRole.Link: ACCENT,
        QPalette.ColorRole.Light: "#ffffff",
        QPalette.ColorRole.Midlight: "#eef0f3",
        QPalette.ColorRole.Mid: "#cfd5dc",
        QPalette.ColorRole.Dark: "#9aa3ae",
        QPalette.ColorRole.Shadow: "#6b7280",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(TEXT_DISABLED))
    return p
