"""``python -m lstcloud`` runs the CLI."""

import sys

from lstcloud.cli.main import main

sys.exit(main())
