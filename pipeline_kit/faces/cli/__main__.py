"""``python -m pipeline_kit.faces.cli``: the same as the ``pipeline-kit`` command."""

import sys

from pipeline_kit.faces.cli._main import main

sys.exit(main())
