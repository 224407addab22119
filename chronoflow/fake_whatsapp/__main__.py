"""``python -m chronoflow.fake_whatsapp``: the same as ``chronoflow fake-whatsapp``."""

import sys

from chronoflow.fake_whatsapp.cli import main

sys.exit(main())
