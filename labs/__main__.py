"""`python -m labs ...`: the same as `course-lab ...` (the web service starts runs this way)."""

import sys

from labs.cli import main

sys.exit(main())
