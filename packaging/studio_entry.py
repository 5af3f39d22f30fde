"""The self-contained build's entry point: the window, the CLI, or (``--train-process``) the trainer."""

import multiprocessing
import sys

from studio.__main__ import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
