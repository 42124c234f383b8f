"""Every bundled process has a complete diagram: lanes, every flow node inside its lane, every flow
with waypoints, no two shapes on top of each other; and laying it out changed nothing but the diagram."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from tools.layout_bpmn import BPMN, BPMNDI, DC, DI, FLOW_NODES, semantics, semantics_digest, with_layout

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = sorted((ROOT / "processes").glob("*.bpmn"))
# The processes' semantic XML (canonical, without diagram and comments) when they were laid out
# (issue 16). A deliberate change of a process changes its digest: update it here in the same commit.
SEMANTICS = {
    "evaluation_circular.bpmn": "cc726d7b105bb37528dfebbf8bff6ac7e767d7ad37774f2ff392f2902493fbba",
    "joint_meeting.bpmn": "3ab6952ee56679e6ea5907039369e148b94d6e0610f61e92003f4af7e7f86ad1",
    "listed_supervision.bpmn": "7eaf879d275c41d29f0d48b360cfb50a5897d0d3d6b945e5275f36473ba6d772",
    "measure_supervision.bpmn": "9e444998d07da47d0e2ea6b09461ae88066fd504adbf43befc57a66bdf5aa7f6",
    "pool_admission.bpmn": "e4ffdc4df7b2f666b1a8b504136632e861bb209ce0691f63b24c9ffbd6433ff6",
    "pool_data_update.bpmn": "6c153744dade1522a58dec34e0e7f704c06e47c9af0a350fee212201ecec0e63",
    "problem_dispatch.bpmn": "1a34088c0f5878a5bb576cee296c471ea89cee0b7665a67ad4a0905c9b93d02e",
    "recognition_batch.bpmn": "e26c2ef61e58c54fcb81aee20e4e35aa538811ec01aa0c76b84c5df4a10f5ff6",
}
LANES = {"evaluation_circular.bpmn": 3, "listed_supervision.bpmn": 3, "measure_supervision.bpmn": 2, "pool_admission.bpmn": 3,
         "pool_data_update.bpmn": 1, "problem_dispatch.bpmn": 3,
         "recognition_batch.bpmn": 2}
LANES["joint_meeting.bpmn"] = 2
pytestmark = pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def diagram(path: Path):
    root = etree.parse(str(path)).getroot()
    process = root.find(q(BPMN, "process"))
    planes = root.findall(f"{q(BPMNDI, 'BPMNDiagram')}/{q(BPMNDI, 'BPMNPlane')}")
    shapes = {s.get("bpmnElement"): s for plane in planes for s in plane.iter(q(BPMNDI, "BPMNShape"))}
    edges = {e.get("bpmnElement"): e for plane in planes for e in plane.iter(q(BPMNDI, "BPMNEdge"))}
    return root, process, planes, shapes, edges


def box(shape) -> tuple[float, float, float, float]:
    b = shape.find(q(DC, "Bounds"))
    x, y, w, h = (float(b.get(k)) for k in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


def flow_nodes(container) -> list:
    """Flow nodes at every depth (sub-processes' children too)."""
    return [e for e in container.iter() if isinstance(e.tag, str) and etree.QName(e).namespace == BPMN
            and etree.QName(e).localname in FLOW_NODES]


def test_the_plane_shows_the_process_and_every_lane(path):
    root, process, planes, shapes, _ = diagram(path)
    collaboration = root.find(q(BPMN, "collaboration"))
    assert [p.get("bpmnElement") for p in planes] == [
        collaboration.get("id") if collaboration is not None else process.get("id")]
    lanes = process.findall(f"{q(BPMN, 'laneSet')}/{q(BPMN, 'lane')}")
    assert len(lanes) == LANES[path.name]
    for lane in lanes:
        assert lane.get("id") in shapes, f"{path.name}: no shape for lane {lane.get('id')}"
        assert shapes[lane.get("id")].get("isHorizontal") == "true"


def test_every_flow_node_has_a_shape_inside_its_lane(path):
    _, process, _, shapes, _ = diagram(path)
    lane_of = {ref.text.strip(): lane.get("id")
               for lane in process.iter(q(BPMN, "lane")) for ref in lane.findall(q(BPMN, "flowNodeRef"))}
    for node in flow_nodes(process):
        assert node.get("id") in shapes, f"{path.name}: no shape for {node.get('id')}"
        owner = node   # a sub-process's children are in the lane of the sub-process
        while owner.get("id") not in lane_of:
            owner = owner.getparent()
        x1, y1, x2, y2 = box(shapes[node.get("id")])
        lx1, ly1, lx2, ly2 = box(shapes[lane_of[owner.get("id")]])
        assert lx1 <= x1 and x2 <= lx2 and ly1 <= y1 and y2 <= ly2, \
            f"{path.name}: {node.get('id')} lies outside lane {lane_of[owner.get('id')]}"


def test_sub_processes_are_drawn_open_with_their_children_inside(path):
    _, process, _, shapes, _ = diagram(path)
    for sub in process.iter(q(BPMN, "subProcess")):
        assert shapes[sub.get("id")].get("isExpanded") == "true"   # the departments' work is not one box
        sx1, sy1, sx2, sy2 = box(shapes[sub.get("id")])
        for child in flow_nodes(sub):
            if child is not sub:
                x1, y1, x2, y2 = box(shapes[child.get("id")])
                assert sx1 < x1 and x2 < sx2 and sy1 < y1 and y2 < sy2, child.get("id")


def test_every_sequence_flow_has_an_edge_with_waypoints(path):
    _, process, _, _, edges = diagram(path)
    for flow in process.iter(q(BPMN, "sequenceFlow")):
        assert flow.get("id") in edges, f"{path.name}: no edge for {flow.get('id')}"
        assert len(edges[flow.get("id")].findall(q(DI, "waypoint"))) >= 2


def test_no_two_node_shapes_overlap(path):
    _, process, _, shapes, _ = diagram(path)
    nodes = flow_nodes(process)
    allowed = {(n.get("id"), n.get("attachedToRef")) for n in nodes if n.get("attachedToRef")}
    allowed |= {(c.get("id"), sub.get("id")) for sub in process.iter(q(BPMN, "subProcess"))
                for c in flow_nodes(sub) if c is not sub}
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            pair = (a.get("id"), b.get("id"))
            if pair in allowed or pair[::-1] in allowed:
                continue
            ax1, ay1, ax2, ay2 = box(shapes[a.get("id")])
            bx1, by1, bx2, by2 = box(shapes[b.get("id")])
            assert ax2 <= bx1 or bx2 <= ax1 or ay2 <= by1 or by2 <= ay1, f"{path.name}: {pair} overlap"


def test_the_process_itself_is_what_it_was_before_the_layout(path):
    assert semantics_digest(path.read_bytes()) == SEMANTICS[path.name]


def test_the_layout_tool_changes_only_the_diagram_and_is_up_to_date(path):
    text = path.read_text(encoding="utf-8")
    again = with_layout(text)
    assert semantics(again.encode("utf-8")) == semantics(text.encode("utf-8"))
    assert again == text, f"{path.name}: run python -m tools.layout_bpmn {path.relative_to(ROOT)}"
