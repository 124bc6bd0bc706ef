"""``python -m seqtext.cli ...`` (and ``torchrun ... -m seqtext.cli train ...``): the ``seqtext`` command."""

import sys

from seqtext.cli.main import main

sys.exit(main())
