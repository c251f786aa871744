"""Start the notebot web UI: `python app.py [--host H] [--port P] [--index-dir D] [--corpus-dir C]`."""

import sys

from notebot.apps.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
