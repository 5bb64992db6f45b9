"""Reading a command's stdout when it holds several JSON documents (``--json`` prints a plan, then the execution)."""

from __future__ import annotations

import json
from typing import Any


def json_documents(text: str) -> list[Any]:
    """Every JSON document in ``text``, in order (whitespace between them, none inside required)."""
    decoder, docs, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return docs
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)
