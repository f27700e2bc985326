"""The demo's journeys: the deployer's journeys.yaml with a global holdout added, written beside the demo's data.

Holding patients out of care messages is a deployer's decision (their ethics board's), so the shipped journeys.yaml
configures none; the demo adds one to its own copy, so that `careloop report experiment` has a holdout to measure
the synthetic hospital's known effect against. The copy is a round trip of the file (comments and order kept), with
only ``outreach.global_holdout`` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap


@dataclass(frozen=True, slots=True)
class Holdout:
    id: str = "demo-holdout"
    share: int = 20  # percent
    salt: str = "demo"


class OverlayError(ValueError):
    """The journeys file cannot take the overlay; the message names the file and what is wrong."""


def with_global_holdout(source: Path, target: Path, holdout: Holdout = Holdout()) -> Path:
    """Write ``source`` to ``target`` with ``outreach.global_holdout`` set to ``holdout``; return ``target``.
    A file that configures a global holdout of its own is refused: the demo would silently replace it."""
    yaml = YAML()  # round trip: comments, order and quoting stay as the deployer wrote them
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)  # the shipped file's layout
    yaml.width = 4096
    doc = yaml.load(source.read_text(encoding="utf-8"))
    outreach = doc.get("outreach") if isinstance(doc, CommentedMap) else None
    if not isinstance(outreach, CommentedMap):
        raise OverlayError(f"{source}: no outreach section to add the demo's global holdout to")
    if "global_holdout" in outreach:
        raise OverlayError(f"{source}: outreach.global_holdout is already configured; the demo adds its own")
    # First in the section: at the end it would land after the comment that opens the next section.
    outreach.insert(0, "global_holdout", CommentedMap(id=holdout.id, share=holdout.share, salt=holdout.salt))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as out:
        yaml.dump(doc, out)
    return target
