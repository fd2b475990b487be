"""Small reusable widgets of the shell: empty states, banners, progress panel, status bar, sidebar."""
