"""Diagram layout (BPMNDI) for the bundled processes: `python -m tools.layout_bpmn processes/*.bpmn`.

A layered left-to-right layout by the sequence flows: a node's column is its longest path from the
start (loops broken at their back flows), each lane has rows, a node takes its first predecessor's
row when free (a boundary event's target the row below), expanded sub-processes are laid out inside
their own box, and every flow gets orthogonal waypoints that avoid the other shapes where a simple
route can. Only the ``bpmndi:BPMNDiagram`` part of a file is written: everything else stays byte for
byte as it was (``semantics()`` is what the tests compare). ``HINTS`` holds the hand tuning.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
NAMESPACES = {"bpmndi": BPMNDI, "dc": DC, "di": DI}

EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
ACTIVITIES = {"task", "userTask", "scriptTask", "serviceTask", "businessRuleTask", "manualTask", "sendTask",
              "receiveTask", "callActivity", "subProcess"}
FLOW_NODES = EVENTS | GATEWAYS | ACTIVITIES
SIZES = {"event": (36, 36), "gateway": (50, 50), "activity": (120, 80)}

GAP_X = 100         # between columns: room for a flow's name and a vertical segment
ROW_MARGIN = 50     # above and below each row: gateways' labels and the loops' channels
LANE_HEADER = 30    # the band holding the lane's (or pool's) name
INNER_PAD = 40      # inside an expanded sub-process, around its children
CHAR_W = 13         # one CJK character's width at the viewer's external label font (13 px)
LABEL_W = 90        # bpmn-js wraps external labels at this width
LINE_H = 17

# Hand tuning: flows to draw as loops (so the layering puts their target first) and fixed rows.
HINTS: dict[str, dict] = {
    "problem_dispatch": {"back": {"flow_reopen_rework"},
                         "rows": {"count_reopen": 1, "reopen_gateway": 1, "reopen_item": 1,
                                  "mark_not_visited": 3, "end_not_visited": 3, "record_visit_attempt": 2}},
}


@dataclass
class Box:
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def hits(self, other: Box, margin: float = 0) -> bool:
        return not (self.right + margin <= other.x or other.right + margin <= self.x
                    or self.bottom + margin <= other.y or other.bottom + margin <= self.y)


@dataclass
class Node:
    id: str
    kind: str            # event | gateway | activity
    tag: str
    name: str
    element: etree._Element
    lane: str = ""
    layer: int = 0
    row: int = 0
    box: Box = field(default_factory=Box)
    host: str | None = None   # a boundary event's activity
    children: Container | None = None


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str
    back: bool = False
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Container:
    nodes: dict[str, Node]
    flows: list[Flow]
    lanes: list[tuple[str, str]]   # (lane id, name), top to bottom; one unnamed band when there are none
    lane_spans: dict[str, tuple[float, float]] = field(default_factory=dict)   # lane id: (top, bottom)


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def kind_of(tag: str) -> str:
    return "event" if tag in EVENTS else "gateway" if tag in GATEWAYS else "activity"


def read_container(parent: etree._Element, hints: dict, lane_of: dict[str, str]) -> Container:
    """The flow nodes and flows directly inside a process or sub-process."""
    nodes: dict[str, Node] = {}
    flows: list[Flow] = []
    for child in parent:
        if not isinstance(child.tag, str) or etree.QName(child).namespace != BPMN:
            continue
        tag = local(child)
        if tag in FLOW_NODES:
            node = Node(child.get("id"), kind_of(tag), tag, child.get("name") or "", child,
                        lane=lane_of.get(child.get("id"), ""), host=child.get("attachedToRef"))
            node.box.w, node.box.h = SIZES[node.kind]
            if tag == "subProcess":
                node.children = read_container(child, hints, {})
            nodes[node.id] = node
        elif tag == "sequenceFlow":
            flows.append(Flow(child.get("id"), child.get("sourceRef"), child.get("targetRef"),
                              child.get("name") or "", back=child.get("id") in hints.get("back", set())))
    for node in nodes.values():   # a sub-process's children live in its parent's lane
        if node.children:
            for child_node in node.children.nodes.values():
                child_node.lane = node.lane
    return Container(nodes, flows, [])


def _anchor(container: Container, node_id: str) -> str:
    """Where a flow starts for the layering: a boundary event counts as its activity."""
    node = container.nodes[node_id]
    return node.host if node.host else node_id


def mark_back_flows(container: Container) -> None:
    """Depth-first from the start events in document order: a flow to a node on the path is a loop."""
    outgoing: dict[str, list[Flow]] = {}
    for flow in container.flows:
        outgoing.setdefault(_anchor(container, flow.source), []).append(flow)
    state: dict[str, int] = {}

    def visit(node_id: str) -> None:
        state[node_id] = 1
        for flow in outgoing.get(node_id, []):
            if flow.back:
                continue
            if state.get(flow.target) == 1:
                flow.back = True
            elif flow.target not in state:
                visit(flow.target)
        state[node_id] = 2

    roots = [n.id for n in container.nodes.values() if n.tag == "startEvent"]
    for node_id in roots + [n for n in container.nodes if not container.nodes[n].host]:
        if node_id not in state:
            visit(node_id)


def assign_layers(container: Container) -> None:
    forward = [f for f in container.flows if not f.back]
    changed = True
    while changed:   # longest path over the acyclic forward flows (small graphs: a fixpoint is enough)
        changed = False
        for flow in forward:
            source = container.nodes[_anchor(container, flow.source)]
            target = container.nodes[flow.target]
            if target.layer < source.layer + 1:
                target.layer, changed = source.layer + 1, True


def assign_rows(container: Container) -> None:
    """Each lane's rows: a node takes its first placed predecessor's row (boundary: one below) if free."""
    taken: set[tuple[str, int, int]] = set()
    incoming: dict[str, list[tuple[int, Flow]]] = {}
    outgoing_index: dict[str, int] = {}
    for flow in container.flows:
        anchor = _anchor(container, flow.source)
        outgoing_index[flow.id] = sum(1 for f in container.flows if _anchor(container, f.source) == anchor
                                      and container.flows.index(f) < container.flows.index(flow))
        if not flow.back:
            incoming.setdefault(flow.target, []).append((outgoing_index[flow.id], flow))
    order = list(container.nodes)
    placed: set[str] = set()
    for node in sorted((n for n in container.nodes.values() if not n.host),
                       key=lambda n: (n.layer, _row_key(container, n, incoming), order.index(n.id))):
        preferred = 0
        for _, flow in sorted(incoming.get(node.id, []), key=lambda p: p[0]):
            source = container.nodes[flow.source]
            anchor = container.nodes[_anchor(container, flow.source)]
            if anchor.id in placed and anchor.lane == node.lane:
                preferred = anchor.row + (1 if source.host else 0)
                break
        row = preferred
        while (node.lane, node.layer, row) in taken:
            row += 1
        node.row = row
        taken.add((node.lane, node.layer, row))
        placed.add(node.id)


def _row_key(container: Container, node: Node, incoming: dict) -> tuple:
    keys = [(container.nodes[_anchor(container, f.source)].row, index)
            for index, f in incoming.get(node.id, [])]
    return min(keys) if keys else (0, 0)


def layout_container(container: Container, hints: dict) -> tuple[float, float]:
    """Places the nodes (relative to 0, 0) and returns the content's width and height."""
    for node in container.nodes.values():
        if node.children:
            node.box.w, node.box.h = layout_container(node.children, hints)
            node.box.w += 2 * INNER_PAD
            node.box.h += 2 * INNER_PAD
    mark_back_flows(container)
    assign_layers(container)
    assign_rows(container)
    for node_id, row in hints.get("rows", {}).items():
        if node_id in container.nodes:
            container.nodes[node_id].row = row
    return place(container)


def place(container: Container) -> tuple[float, float]:
    main = [n for n in container.nodes.values() if not n.host]
    layers = max((n.layer for n in main), default=0) + 1
    widths = [max((n.box.w for n in main if n.layer == i), default=36) for i in range(layers)]
    xs = [sum(widths[:i]) + GAP_X * i for i in range(layers)]
    lane_ids = [lane for lane, _ in container.lanes] or [""]
    band = {n.id: (n.lane if container.lanes else "") for n in main}
    top = 0.0
    lane_tops: dict[str, tuple[float, float]] = {}
    for lane in lane_ids:
        rows = max((n.row for n in main if band[n.id] == lane), default=0) + 1
        heights = [max((n.box.h for n in main if band[n.id] == lane and n.row == r), default=80)
                   for r in range(rows)]
        y = top
        for r, height in enumerate(heights):
            for node in main:
                if band[node.id] == lane and node.row == r:
                    node.box.x = xs[node.layer] + (widths[node.layer] - node.box.w) / 2
                    node.box.y = y + ROW_MARGIN + (height - node.box.h) / 2
            y += height + 2 * ROW_MARGIN
        lane_tops[lane] = (top, y)
        top = y
    for node in container.nodes.values():
        if node.host:   # on the activity's lower edge, towards its right
            host = container.nodes[node.host].box
            node.box.x, node.box.y = host.x + host.w * 0.7 - node.box.w / 2, host.bottom - node.box.h / 2
    container.lane_spans = lane_tops
    return xs[-1] + widths[-1], top


def offset(container: Container, dx: float, dy: float) -> None:
    """Moves a container's own nodes (``place_children`` then moves the sub-processes' contents)."""
    for node in container.nodes.values():
        node.box.x += dx
        node.box.y += dy


def all_nodes(container: Container) -> list[Node]:
    out = []
    for node in container.nodes.values():
        out.append(node)
        if node.children:
            out.extend(all_nodes(node.children))
    return out


def place_children(container: Container) -> None:
    """Moves each expanded sub-process's children into its box (they were laid out from 0, 0)."""
    for node in container.nodes.values():
        if node.children:
            offset(node.children, node.box.x + INNER_PAD, node.box.y + INNER_PAD)
            place_children(node.children)


# -- flows --------------------------------------------------------------------------------------

def _crosses(points: list[tuple[float, float]], obstacles: list[Box]) -> int:
    hits = 0
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        segment = Box(min(x1, x2), min(y1, y2), abs(x2 - x1) or 1, abs(y2 - y1) or 1)
        hits += sum(1 for box in obstacles if segment.hits(box, -2))
    return hits


def candidates(source: Node, target: Node, back: bool) -> list[list[tuple[float, float]]]:
    s, t = source.box, target.box
    if source.host:   # from a boundary event: down, then to the target
        return [[(s.cx, s.bottom), (s.cx, t.cy), (t.x, t.cy)] if t.x > s.cx else
                [(s.cx, s.bottom), (s.cx, t.bottom + 20), (t.cx, t.bottom + 20), (t.cx, t.bottom)]]
    if back:
        above = t.y - 22 if t.cy <= s.cy else None
        routes = []
        if above is not None:
            routes.append([(s.cx, s.y), (s.cx, above), (t.cx, above), (t.cx, t.y)])
            side = s.right + GAP_X / 3
            routes.append([(s.right, s.cy), (side, s.cy), (side, above), (t.cx, above), (t.cx, t.y)])
        below = max(s.bottom, t.bottom) + 22
        routes.append([(s.cx, s.bottom), (s.cx, below), (t.cx, below), (t.cx, t.bottom)])
        if above is None:   # the target is lower: into its top from the channel above its row
            over = t.y - 22
            routes[:0] = [[(s.cx, s.bottom), (s.cx, over), (t.cx, over), (t.cx, t.y)],
                          [(s.cx, s.bottom), (s.cx, t.bottom + 22), (t.cx, t.bottom + 22), (t.cx, t.bottom)]]
        return routes
    if abs(s.cy - t.cy) < 1:   # straight on, or over the shapes in between
        over = min(s.y, t.y) - 22
        start = [(s.cx, s.y)] if source.kind == "gateway" else [(s.right, s.cy), (s.right + GAP_X / 3, s.cy)]
        return [[(s.right, s.cy), (t.x, t.cy)],
                [*start, (start[-1][0], over), (t.cx, over), (t.cx, t.y)]]
    down = t.cy > s.cy
    routes = []
    if source.kind == "gateway":   # out of the gateway's upper or lower corner
        routes.append([(s.cx, s.bottom if down else s.y), (s.cx, t.cy), (t.x, t.cy)])
    routes.append([(s.right, s.cy), (s.right + GAP_X / 2, s.cy), (s.right + GAP_X / 2, t.cy), (t.x, t.cy)])
    routes.append([(s.right, s.cy), (t.x - GAP_X / 2, s.cy), (t.x - GAP_X / 2, t.cy), (t.x, t.cy)])
    if target.kind != "event":
        routes.append([(s.right, s.cy), (t.cx, s.cy), (t.cx, t.y if down else t.bottom)])
    return routes


def route(container: Container, everything: list[Node]) -> None:
    """Waypoints for every flow of a container (and its sub-processes): the route crossing fewest shapes."""
    used_channels: dict[float, int] = {}
    for flow in container.flows:
        source, target = container.nodes[flow.source], container.nodes[flow.target]
        obstacles = [n.box for n in everything if n.id not in (source.id, target.id, source.host)
                     and not n.children and n is not container.nodes.get(source.host or "")]
        routes = candidates(source, target, flow.back)
        best = min(routes, key=lambda p: (_crosses(p, obstacles), routes.index(p)))
        if flow.back:   # loops sharing a channel (their second-to-last segment) are drawn apart
            (ax, level), (bx, _) = best[-3], best[-2]
            shift = 8 * used_channels.get(level, 0) * (-1 if level < best[-1][1] else 1)
            used_channels[level] = used_channels.get(level, 0) + 1
            best = [*best[:-3], (ax, level + shift), (bx, level + shift), best[-1]]
        flow.points = best
    for node in container.nodes.values():
        if node.children:
            route(node.children, everything)


# -- labels and output --------------------------------------------------------------------------

def text_width(text: str) -> float:
    return sum(CHAR_W if ord(ch) > 0x2E80 else CHAR_W * 0.6 for ch in text)


def label_size(text: str) -> tuple[float, float]:
    wide = text_width(text)
    wide += 12   # bpmn-js breaks a line that only just fits
    return min(wide, LABEL_W), LINE_H * max(1, -(-int(wide) // LABEL_W))


def node_label(node: Node, flows: list[Flow]) -> Box | None:
    """External labels of events and gateways: below, or above when a flow leaves downwards."""
    if node.kind == "activity" or not node.name:
        return None
    width, height = label_size(node.name)
    b = node.box
    leaves_down = any(f.points and f.points[0] == (b.cx, b.bottom) for f in flows)
    if node.host or leaves_down:
        leaves_up = any(f.points and f.points[0] == (b.cx, b.y) for f in flows)
        if node.host or leaves_up:
            return Box(b.right + 4, b.bottom + 2 if node.host else b.y - height - 2, width, height)
        return Box(b.cx - width + 8, b.y - height - 4, width, height)   # left of the exits' labels
    return Box(b.cx - width / 2, b.bottom + 5, width, height)


def flow_label(flow: Flow) -> Box | None:
    """Above the flow's first long horizontal segment, at its start; else beside its first segment."""
    if not flow.name:
        return None
    width, height = label_size(flow.name)
    segments = list(itertools.pairwise(flow.points))[:1 if flow.back else 3]
    for index, ((x1, y1), (x2, y2)) in enumerate(segments):
        if abs(y1 - y2) < 1 and (abs(x2 - x1) >= GAP_X or index == len(segments) - 1 or index > 0):
            x = x1 + 6 if x2 > x1 else x1 - width - 6
            return Box(x, y1 - height - 3, width, height)
    (x1, y1), (x2, y2) = segments[0]
    return Box(x1 + 6, (y1 + y2) / 2 - height / 2, width, height)


def bounds(parent: etree._Element, box: Box) -> None:
    etree.SubElement(parent, f"{{{DC}}}Bounds", x=_n(box.x), y=_n(box.y), width=_n(box.w), height=_n(box.h))


def _n(value: float) -> str:
    return str(round(value))


def _flows(container: Container) -> list[Flow]:
    out = list(container.flows)
    for node in container.nodes.values():
        if node.children:
            out.extend(_flows(node.children))
    return out


def lay_out(root: etree._Element) -> tuple[etree._Element, Container]:
    """The BPMNDiagram element for the file's (first) process, and the laid-out model."""
    process = root.find(f"{{{BPMN}}}process")
    participant = root.find(f"{{{BPMN}}}collaboration/{{{BPMN}}}participant[@processRef='{process.get('id')}']")
    hints = HINTS.get(process.get("id"), {})
    lanes = process.findall(f"{{{BPMN}}}laneSet/{{{BPMN}}}lane")
    lane_of = {ref.text.strip(): lane.get("id") for lane in lanes for ref in lane.findall(f"{{{BPMN}}}flowNodeRef")}
    model = read_container(process, hints, lane_of)
    model.lanes = [(lane.get("id"), lane.get("name") or "") for lane in lanes]
    width, height = layout_container(model, hints)
    left = LANE_HEADER * (2 if participant is not None else 1) + 40
    offset(model, left, 0)
    place_children(model)
    everything = all_nodes(model)
    route(model, everything)
    diagram = etree.Element(f"{{{BPMNDI}}}BPMNDiagram", nsmap=NAMESPACES, id=f"BPMNDiagram_{process.get('id')}")
    plane_of = participant.getparent() if participant is not None else process
    plane = etree.SubElement(diagram, f"{{{BPMNDI}}}BPMNPlane", id=f"BPMNPlane_{process.get('id')}",
                             bpmnElement=plane_of.get("id"))
    total = Box(0, 0, left + width + 40, height)
    if participant is not None:
        shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{participant.get('id')}_di",
                                 bpmnElement=participant.get("id"), isHorizontal="true")
        bounds(shape, total)
    lane_x = LANE_HEADER if participant is not None else 0
    for lane_id, _ in model.lanes:
        top, bottom = model.lane_spans[lane_id]
        shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{lane_id}_di", bpmnElement=lane_id,
                                 isHorizontal="true")
        bounds(shape, Box(lane_x, top, total.w - lane_x, bottom - top))
    flows = _flows(model)
    for node in everything:
        write_shape(plane, node, [f for f in flows if f.source == node.id])
    for flow in flows:
        edge = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNEdge", id=f"{flow.id}_di", bpmnElement=flow.id)
        for x, y in flow.points:
            etree.SubElement(edge, f"{{{DI}}}waypoint", x=_n(x), y=_n(y))
        label = flow_label(flow)
        if label:
            bounds(etree.SubElement(edge, f"{{{BPMNDI}}}BPMNLabel"), label)
    return diagram, model


def write_shape(plane: etree._Element, node: Node, outgoing: list[Flow]) -> None:
    shape = etree.SubElement(plane, f"{{{BPMNDI}}}BPMNShape", id=f"{node.id}_di", bpmnElement=node.id)
    if node.kind == "gateway":
        shape.set("isMarkerVisible", "true")
    if node.children:
        shape.set("isExpanded", "true")
    bounds(shape, node.box)
    label = node_label(node, outgoing)
    if label:
        bounds(etree.SubElement(shape, f"{{{BPMNDI}}}BPMNLabel"), label)


DIAGRAM_RE = re.compile(r"\s*(<!--[^>]*BPMNDI[^>]*-->\s*)?<bpmndi:BPMNDiagram\b.*?</bpmndi:BPMNDiagram>", re.S)
COMMENT = "<!-- Diagram layout (BPMNDI): generated by tools/layout_bpmn.py, then editable in the designer. -->"


def with_layout(text: str) -> str:
    """The file's text with a new diagram: the old one replaced, everything else kept byte for byte."""
    root = etree.fromstring(text.encode("utf-8"))
    diagram, _ = lay_out(root)
    for prefix, uri in NAMESPACES.items():
        if root.nsmap.get(prefix) not in (None, uri):
            raise ValueError(f"the prefix {prefix} names {root.nsmap[prefix]}, not {uri}")
    xml = etree.tostring(diagram, encoding="unicode", pretty_print=True)
    xml = re.sub(r' xmlns:\w+="[^"]*"', "", xml, count=len(NAMESPACES))
    body = "\n".join("  " + line for line in xml.rstrip().splitlines())
    text = DIAGRAM_RE.sub("", text)
    declare = "".join(f'\n                  xmlns:{p}="{u}"' for p, u in NAMESPACES.items() if p not in root.nsmap)
    text = re.sub(r"<bpmn:definitions\b[^>]*?xmlns:bpmn=\"[^\"]*\"", lambda m: m.group(0) + declare, text, count=1)
    end = text.rindex("</bpmn:definitions>")
    return text[:end].rstrip() + f"\n  {COMMENT}\n{body}\n" + text[end:]


def semantics(data: bytes) -> str:
    """The file without its diagram, comments and unused namespace declarations, in canonical XML."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    root = etree.fromstring(data, parser)
    for diagram in root.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        root.remove(diagram)
    etree.cleanup_namespaces(root)
    return etree.tostring(root, method="c14n2", with_comments=False, strip_text=True).decode("utf-8")


def semantics_digest(data: bytes) -> str:
    return hashlib.sha256(semantics(data).encode("utf-8")).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Lay out BPMN files' diagrams (BPMNDI) in place.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="only report files whose layout would change")
    args = parser.parse_args(argv)
    stale = 0
    for path in args.files:
        text = path.read_text(encoding="utf-8")
        new = with_layout(text)
        if semantics(new.encode("utf-8")) != semantics(text.encode("utf-8")):
            raise SystemExit(f"{path}: the layout would change the process itself")
        if new != text:
            stale += 1
            if args.check:
                print(f"{path}: layout out of date")
            else:
                path.write_text(new, encoding="utf-8")
                print(f"{path}: laid out")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
