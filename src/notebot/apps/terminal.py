"""Text from notes made safe for a terminal: no escape sequences, no control characters.

A note can hold ESC sequences that clear the screen, set the window title or write the clipboard
(OSC 52). Human-readable output goes through printable(); JSON output is escaped by json itself.
"""

from __future__ import annotations

import re

# ESC/CSI/OSC/DCS sequences first (so their parameters go too), then any other C0/C1 control
# character except newline and tab; DEL included.
ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"                      # CSI … final byte
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]).*?(?:\x07|\x1b\\|\x9c|(?=\n)|$)"  # OSC/DCS/… to its terminator (or the line end)
    r"|\x1b[ -/]*[0-~]?",                                  # other ESC sequences
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """text without terminal escape sequences and control characters (newlines and tabs kept)."""
    text = text.replace("\r\n", "\n")
    return CONTROL.sub("", ESCAPE_SEQUENCE.sub("", text))
