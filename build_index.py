"""python build_index.py [--corpus DIR] [--index DIR] [--if-stale]"""

import sys

from bot.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["build", *sys.argv[1:]]))
