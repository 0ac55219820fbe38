"""``python -m elasticc_tutorial.scale features|combine ...`` (see :mod:`elasticc_tutorial.scale.cli`)."""

import sys

from elasticc_tutorial.scale.cli import main

if __name__ == "__main__":
    sys.exit(main())
