"""Icons, style sheets and other files shipped with the application."""
