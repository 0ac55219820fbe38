"""``python -m elasticc_tutorial`` runs the command line."""

import sys

from elasticc_tutorial.cli import main

sys.exit(main())
