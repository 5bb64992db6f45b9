"""A recorded snapshot holding a tradable-looking neg-risk basket of many legs, built from the demo data.

The demo marks its 32-outcome World Cup event incomplete, so scan prices no basket there. This copy
marks it complete and asks 0.030-0.031 for every YES (32 legs summing below $1): what a real scan can
find, and what `orion trade` cannot execute (it sends two legs).
"""

from __future__ import annotations

import gzip
import importlib.resources
import json
from pathlib import Path

BASKET_EVENT = "2026 FIFA World Cup"


def write_basket_snapshot(path: Path) -> Path:
    with importlib.resources.files("orion_cli.data").joinpath("demo_snapshot.json.gz").open("rb") as raw:
        data = json.load(gzip.open(raw))
    poly = data["venues"]["polymarket"]
    books = {b["asset_id"]: b for b in poly["books"]}
    [event] = [e for e in poly["events"] if e["title"].startswith(BASKET_EVENT)]
    event.pop("_orion_partial", None)  # its outcome list is complete
    for m in event["markets"]:
        m["endDate"] = "2027-07-20T00:00:00Z"
        yes, no = json.loads(m["clobTokenIds"])
        books[yes].update(asks=[{"price": "0.031", "size": "500"}, {"price": "0.030", "size": "100"}],
                          bids=[{"price": "0.020", "size": "500"}], tick_size="0.001")
        books[no].update(asks=[{"price": "0.985", "size": "500"}], bids=[{"price": "0.975", "size": "500"}],
                         tick_size="0.001")
    path.write_text(json.dumps(data))
    return path
