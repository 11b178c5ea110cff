import sys

from salestalk_lib.cli.main import main

sys.exit(main())
