"""``python -m backoffice``, and the command the desktop bundle runs (``installer/entry.py``).

``multiprocessing.freeze_support()`` is called before the command line is imported: in the frozen
application a worker of the image pool (spawn start method) is this executable started again, and
freeze_support turns it into the worker and exits. Outside a bundle it does nothing.
"""

import multiprocessing


def run() -> None:
    multiprocessing.freeze_support()

    from backoffice.cli import main

    main(prog_name="backoffice")


if __name__ == "__main__":
    run()
