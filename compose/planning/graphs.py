"""Two small questions about directed graphs that the planner asks: is there a cycle, and is there a path."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping, Sequence


def find_cycle(nodes: Iterable[int], edges: Sequence[tuple[int, int, str]]) -> list[str] | None:
    """Labels of the edges along one directed cycle, in order, or None when the graph has none."""
    outgoing: dict[int, list[tuple[int, str]]] = collections.defaultdict(list)
    for start, end, label in edges:
        outgoing[start].append((end, label))
    state: dict[int, int] = {}  # 1: on the current path, 2: finished
    path_labels: list[str] = []
    path_nodes: list[int] = []

    def visit(node: int) -> list[str] | None:
        state[node] = 1
        path_nodes.append(node)
        for successor, label in outgoing[node]:
            if state.get(successor) == 1:
                return path_labels[path_nodes.index(successor):] + [label]
            if successor not in state:
                path_labels.append(label)
                found = visit(successor)
                if found is not None:
                    return found
                path_labels.pop()
        path_nodes.pop()
        state[node] = 2
        return None

    for node in nodes:
        if node not in state:
            found = visit(node)
            if found is not None:
                return found
    return None


def reaches(successors: Mapping[int, Iterable[int]], start: int, goal: int) -> bool:
    """Whether `goal` can be reached from `start` along `successors`."""
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for successor in successors.get(node, ()):
            if successor not in seen:
                seen.add(successor)
                stack.append(successor)
    return False
