"""A story's branches: every generation, retry and rewrite is a node of a tree; the document shows one path.

A node is an edit of the text: at ``start`` it replaced ``removed`` (empty for a continuation, the passage for a
rewrite) with ``text``. Its parent is the node that was in place when it was written; a retry is a sibling (same
parent, same place). Putting another branch in place undoes the nodes of the path in place up to the common
ancestor and redoes those of the other path — each found in the text near where it was written (the writer may
have typed before it since), so the writer's own text around the branches is kept. Pure text and data: no Qt.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from studio.core.io import untrusted as u
from studio.core.text.text_specs import TokenProb

KINDS = ("continue", "retry", "rewrite", "original", "token")
MODEL_KINDS = (
    "continue",
    "retry",
    "rewrite",
    "token",
)  # what the model wrote ("original": the writer's text)
BEFORE_CHARS = 80  # the text before a node, kept to find its place again
MAX_NODES = 2000  # per story; the oldest leaves off the path in place go first
MAX_PROBS = 4096  # tokens with probabilities kept per node


@dataclass(frozen=True)
class Node:
    id: str
    parent: str  # "" for the writer's own text
    kind: str
    start: int
    removed: str
    text: str
    before: str = ""
    created: float = 0.0
    model: str = ""
    probs: tuple[TokenProb, ...] = ()

    @property
    def label(self) -> str:
        first = " ".join(self.text.split())
        return first[:48] + ("…" if len(first) > 48 else "")


@dataclass
class StoryTree:
    nodes: dict[str, Node] = field(default_factory=dict)
    active: str = ""  # the node whose path is in the text ("" none)
    shown: bool = True  # the active node is still marked as the model's (not accepted yet)

    # -- shape ---------------------------------------------------------------------------------------------
    def children(self, node_id: str) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.parent == node_id), key=lambda n: n.created)

    def siblings(self, node_id: str) -> list[Node]:
        """The alternatives at a node's place (itself included), oldest first."""
        node = self.nodes.get(node_id)
        if node is None:
            return []
        return [n for n in self.children(node.parent) if n.start == node.start and n.removed == node.removed]

    def path(self, node_id: str) -> list[Node]:
        """From the root down to ``node_id``."""
        out: list[Node] = []
        seen: set[str] = set()
        while node_id and node_id in self.nodes and node_id not in seen:
            seen.add(node_id)
            out.append(self.nodes[node_id])
            node_id = self.nodes[node_id].parent
        return out[::-1]

    # -- growing -------------------------------------------------------------------------------------------
    def add(
        self,
        text_before: str,
        start: int,
        removed: str,
        text: str,
        kind: str,
        parent: str | None = None,
        model: str = "",
        probs: tuple[TokenProb, ...] = (),
    ) -> Node:
        """A new node (the active one's child unless ``parent`` says otherwise), now the active one."""
        node = Node(
            id=uuid.uuid4().hex[:12],
            parent=self.active if parent is None else parent,
            kind=kind if kind in KINDS else "continue",
            start=start,
            removed=removed,
            text=text,
            before=text_before[max(0, start - BEFORE_CHARS) : start],
            created=max([time.time(), *(n.created + 1e-6 for n in self.nodes.values())]),
            model=model,
            probs=probs[:MAX_PROBS],
        )
        self.nodes[node.id] = node
        self.active, self.shown = node.id, True
        self._prune()
        return node

    def update(self, node_id: str, **changes: Any) -> None:
        if node_id in self.nodes:
            self.nodes[node_id] = replace(self.nodes[node_id], **changes)

    def _prune(self) -> None:
        keep = {n.id for n in self.path(self.active)}
        while len(self.nodes) > MAX_NODES:
            parents = {n.parent for n in self.nodes.values()}
            leaves = [n for n in self.nodes.values() if n.id not in parents and n.id not in keep]
            if not leaves:
                return
            del self.nodes[min(leaves, key=lambda n: n.created).id]

    # -- putting a branch in place -------------------------------------------------------------------------
    def place(self, text: str, target: str) -> tuple[str, tuple[int, int]] | str:
        """The text with ``target``'s path in place of the active one's, and the span of ``target``'s own text;
        or a sentence saying why it cannot be done (the writer changed the branch's text since)."""
        if target not in self.nodes:
            return "That branch is gone."
        here, there = self.path(self.active), self.path(target)
        common = 0
        while common < min(len(here), len(there)) and here[common].id == there[common].id:
            common += 1
        for node in reversed(here[common:]):
            at = _find(text, node.text, node.start)
            if at < 0:
                return (
                    "The text of the branch in place was changed since it was written, so Studio cannot "
                    "swap it; accept it or edit it by hand."
                )
            text = text[:at] + node.removed + text[at + len(node.text) :]
        span = (0, 0)
        for node in there[common:]:
            at = (
                _find(text, node.removed, node.start)
                if node.removed
                else _after(text, node.before, node.start)
            )
            if at < 0:
                return "The place this branch was written at is no longer in the text."
            text = text[:at] + node.text + text[at + len(node.removed) :]
            span = (at, at + len(node.text))
        if len(there) == common and there:  # the target is on the path in place: its own span
            node = there[-1]
            at = _find(text, node.text, node.start)
            span = (at, at + len(node.text)) if at >= 0 else (0, 0)
        self.active, self.shown = target, True
        return text, span

    def locate(self, text: str, node_id: str) -> tuple[int, int] | None:
        """Where a node's text is in ``text`` now (None: not found)."""
        node = self.nodes.get(node_id)
        if node is None or not node.text:
            return None
        at = _find(text, node.text, node.start)
        return (at, at + len(node.text)) if at >= 0 else None

    def model_passages(self, text: str) -> list[tuple[int, int]]:
        """Where the model's writing on the path in place still stands in ``text``, word for word (a passage
        the writer has changed since counts as the writer's)."""
        spans = []
        for node in self.path(self.active):
            if node.kind in MODEL_KINDS and (at := self.locate(text, node.id)) and at[1] > at[0]:
                spans.append(at)
        return sorted(set(spans))

    def model_names(self) -> list[str]:
        """The models that wrote on the path in place."""
        return sorted({n.model for n in self.path(self.active) if n.kind in MODEL_KINDS and n.model})

    # -- saving --------------------------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        return {
            "active": self.active,
            "shown": self.shown,
            "nodes": [_node_dict(n) for n in self.nodes.values()],
        }

    @classmethod
    def from_dict(cls, raw: Any) -> StoryTree:
        """Total: a malformed node is skipped, a dangling parent makes a node a root."""
        raw = u.obj(raw)
        nodes: dict[str, Node] = {}
        for item in u.lst(raw.get("nodes"))[: MAX_NODES * 2]:
            node = _node_from(item)
            if node is not None:
                nodes[node.id] = node
        for nid, node in list(nodes.items()):
            if node.parent and node.parent not in nodes:
                nodes[nid] = replace(node, parent="")
        tree = cls(nodes, u.text(raw.get("active"), max_len=64), raw.get("shown") is not False)
        if tree.active not in nodes:
            tree.active = ""
        for nid in list(nodes):  # a cycle (a hand-edited file) is broken at the node found in it
            seen: set[str] = set()
            cur = nid
            while cur and cur in nodes:
                if cur in seen:
                    nodes[cur] = replace(nodes[cur], parent="")
                    break
                seen.add(cur)
                cur = nodes[cur].parent
        return tree


def _find(text: str, needle: str, hint: int) -> int:
    """Where ``needle`` is in ``text``, the occurrence nearest ``hint`` (-1: nowhere)."""
    if text.startswith(needle, hint):
        return hint
    after = text.find(needle, max(0, hint))
    before = text.rfind(needle, 0, max(0, hint) + len(needle))
    found = [p for p in (after, before) if p >= 0]
    return min(found, key=lambda p: abs(p - hint)) if found else -1


def _after(text: str, before: str, hint: int) -> int:
    """The position just after ``before`` nearest ``hint`` (the start for a node written at the beginning)."""
    if not before:  # written at the very beginning
        return 0
    at = _find(text, before, hint - len(before))
    return at + len(before) if at >= 0 else -1


def _probs_dict(p: TokenProb) -> list[Any]:
    return [p.text, round(p.logprob, 4), [[t, round(lp, 4)] for t, lp in p.alternatives]]


def _probs_from(raw: Any) -> TokenProb | None:
    if not isinstance(raw, list) or len(raw) != 3 or not isinstance(raw[0], str):
        return None
    lp = u.number(raw[1])
    if lp is None:
        return None
    alts = []
    for a in u.lst(raw[2])[:50]:
        if isinstance(a, list) and len(a) == 2 and isinstance(a[0], str) and u.number(a[1]) is not None:
            alts.append((a[0][:200], float(u.number(a[1]) or 0.0)))
    return TokenProb(raw[0][:200], min(0.0, lp), tuple(alts))


def _node_dict(n: Node) -> dict[str, Any]:
    return {
        "id": n.id,
        "parent": n.parent,
        "kind": n.kind,
        "start": n.start,
        "removed": n.removed,
        "text": n.text,
        "before": n.before,
        "created": n.created,
        "model": n.model,
        "probs": [_probs_dict(p) for p in n.probs],
    }


def _node_from(raw: Any) -> Node | None:
    if not isinstance(raw, dict):
        return None
    nid, start = u.text(raw.get("id"), max_len=64), u.integer(raw.get("start"))
    if not nid or start is None or start < 0 or not isinstance(raw.get("text"), str):
        return None
    probs = tuple(p for p in (_probs_from(x) for x in u.lst(raw.get("probs"))[:MAX_PROBS]) if p is not None)
    kind = u.text(raw.get("kind"), "continue")
    return Node(
        id=nid,
        parent=u.text(raw.get("parent"), max_len=64),
        kind=kind if kind in KINDS else "continue",
        start=start,
        removed=u.text(raw.get("removed")),
        text=raw["text"],
        before=u.text(raw.get("before"), max_len=BEFORE_CHARS),
        created=u.number(raw.get("created"), 0.0) or 0.0,
        model=u.text(raw.get("model"), max_len=500),
        probs=probs,
    )
