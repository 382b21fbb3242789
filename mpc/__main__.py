import sys

from mpc.app.cli import main

sys.exit(main())
