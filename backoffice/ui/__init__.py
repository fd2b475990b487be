"""The Qt desktop shell.

``app.run_gui`` starts it; ``main_window`` hosts navigation only; each view is a package under
``views/`` with its own item models and widgets; ``dialogs/`` holds the profile and password dialogs;
``tasks`` is the one background executor (nothing here queries the database on the GUI thread);
``screenshot`` renders views offscreen for documentation and tests.
"""

from backoffice.ui import qt_compat

qt_compat.install()
