"""Entry script of the desktop bundle (PyInstaller runs this file as ``__main__``).

``multiprocessing.freeze_support()`` comes before anything else is imported: the image pools
(``services/images.py``, ``services/demo_photos.py``) use the *spawn* start method, whose workers and
resource tracker are this same executable started again with multiprocessing's own arguments. There,
freeze_support runs the worker (or the tracker) and exits, before the command line is parsed or the GUI
loaded.

The script lives outside ``backoffice/`` on purpose: PyInstaller puts the entry script's folder on the
module search path, and ``backoffice/secrets.py`` must not stand in for the standard library's
``secrets`` module.
"""

import multiprocessing

if __name__ == "__main__":
    multiprocessing.freeze_support()

    from backoffice.__main__ import run

    run()
