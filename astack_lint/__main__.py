import sys

from .snapshot import main

if __name__ == "__main__":
    sys.exit(main())
