"""``python -m toeplitzkit.reproduce NAME [--scale smoke] [--out-dir DIR] [--device cuda]``."""

import sys

from ._cli import main

sys.exit(main())
