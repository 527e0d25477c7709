"""``python -m colorbench.gpu_check --out DIR [--device cuda|cpu] [--budget-s S] [--quick]``."""
from __future__ import annotations

import sys

from colorbench.gpu_check.run import main

sys.exit(main())
