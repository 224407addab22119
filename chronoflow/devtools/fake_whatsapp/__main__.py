"""``python -m chronoflow.devtools.fake_whatsapp``: the same as ``chronoflow fake-whatsapp``."""

import sys

from chronoflow.devtools.fake_whatsapp.cli import main

sys.exit(main())
