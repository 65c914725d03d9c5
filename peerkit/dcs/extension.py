"""The collaboration family as an extension: the document shelf and its actor."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from ..extension import Extension

if TYPE_CHECKING:
    from ..actor import ActorRef
    from ..node import Node
    from .actor import DocShelf
    from .client import DcsClient


class DcsExtension(Extension):
    name = "dcs"
    shelf: DocShelf
    ref: ActorRef

    def install(self, node: Node) -> None:
        from .actor import DcsActor, DocShelf

        self.shelf = DocShelf()
        self.ref = node.spawn(partial(DcsActor, self.shelf), name="dcs")

    def client(self, node: Node) -> DcsClient:
        from .client import DcsClient

        return DcsClient(node)
