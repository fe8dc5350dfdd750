"""The bundle's entry point (PyInstaller runs this file as __main__).

freeze_support() first: the indexer parses files in `spawn`ed worker processes, and in a frozen app
each worker is this executable started again; freeze_support() turns that start into the worker.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from ui.launcher import main

    sys.exit(main())
