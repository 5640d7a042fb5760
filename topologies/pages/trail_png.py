"""The money trail of a case as a picture for police and AMLO: victim -> hops -> cash-out.

Layered left to right by hop (the victim at hop 0); each box is an account with its traced
amount, coloured by the state of its hold; each arrow is a transfer labelled with the traced
THB it carried (and the transfer's full amount when only part of it was traced). Input is the
Trail JSON of ``GET /cases/{case_id}/trail`` (docs/web.md). Full account numbers are shown:
this picture is for investigators, unlike the victim page.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from topologies.pages.fmt import as_satang, thb

# Fill colours by hold status (None: no hold asked, e.g. the victim); tests look for them.
HOLD_COLOURS: dict[str | None, str] = {
    "held": "#34a853",
    "requested": "#4285f4",
    "review": "#a142f4",
    "rejected": "#ea4335",
    "empty": "#9aa0a6",
    "released": "#fbbc04",
    None: "#e8f0fe",
}
ROLE_COLOURS = {"victim": "#d2e3fc", "cash": "#3c4043"}
X_STEP, Y_STEP = 4.0, 1.6  # layer and row spacing, data units
BOX_W, BOX_H = 2.7, 1.0
INCH_PER_UNIT = 0.9
DPI = 110


def draw_trail(trail: dict, path: Path) -> None:
    """Write the trail of one case as a PNG to ``path`` (parent directories must exist)."""
    nodes, edges = _nodes_and_edges(trail)
    pos = _layout(nodes, edges)
    xs = [x for x, _ in pos.values()] or [0.0]
    ys = [y for _, y in pos.values()] or [0.0]
    width = max(xs) - min(xs) + BOX_W + 1.6
    height = max(ys) - min(ys) + BOX_H + 2.6
    fig = Figure(figsize=(max(width, 7.0) * INCH_PER_UNIT, max(height, 4.0) * INCH_PER_UNIT), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(min(xs) - BOX_W / 2 - 0.8, min(xs) - BOX_W / 2 - 0.8 + max(width, 7.0))
    ax.set_ylim(min(ys) - BOX_H / 2 - 1.6, min(ys) - BOX_H / 2 - 1.6 + max(height, 4.0))
    ax.invert_yaxis()
    ax.axis("off")
    case_id = str(trail.get("case_id") or "")
    top = ax.get_ylim()[1]
    ax.text(ax.get_xlim()[0] + 0.3, top + 0.4, f"Money trail, case {case_id}", fontsize=13,
            fontweight="bold", va="center")
    for hop in sorted({int(x / X_STEP) for x in xs} if nodes else set()):
        ax.text(hop * X_STEP, min(ys) - BOX_H / 2 - 0.45, "victim" if hop == 0 else f"hop {hop}",
                ha="center", va="center", fontsize=10, color="#5f6368")
    if not nodes:
        ax.text(sum(ax.get_xlim()) / 2, sum(ax.get_ylim()) / 2, "No traced transfers yet.", ha="center")
    for edge_index, edge in enumerate(edges):
        _draw_edge(ax, edge, pos, edge_index, edges)
    for node_id, node in nodes.items():
        _draw_node(ax, node, pos[node_id])
    _legend(ax, nodes)
    fig.savefig(path, format="png", dpi=DPI, facecolor="white")


def _nodes_and_edges(trail: dict) -> tuple[dict[str, dict], list[dict]]:
    """Nodes by id, and the edges between them; an edge to an unlisted account adds a bare node."""
    nodes: dict[str, dict] = {}
    for node in trail.get("nodes") or []:
        if isinstance(node, dict) and node.get("id"):
            nodes[str(node["id"])] = node
    edges = [e for e in trail.get("edges") or [] if isinstance(e, dict) and e.get("from") and e.get("to")]
    for edge in edges:
        hop = edge.get("hop") if isinstance(edge.get("hop"), int) else 1
        for end, end_hop in ((str(edge["from"]), hop - 1), (str(edge["to"]), hop)):
            if end not in nodes:
                bank, _, account = end.partition(":")
                nodes[end] = {"id": end, "bank": bank, "account": account, "hop": max(end_hop, 0),
                              "role": "mule", "hold_status": None, "traced_satang": None}
    return nodes, edges


def _layout(nodes: dict[str, dict], edges: list[dict]) -> dict[str, tuple[float, float]]:
    """Column by hop; within a column, order by the mean row of the senders (fewer crossings)."""
    layers: dict[int, list[str]] = defaultdict(list)
    for node_id, node in nodes.items():
        hop = node.get("hop")
        layers[hop if isinstance(hop, int) and hop >= 0 else 0].append(node_id)
    senders: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        senders[str(edge["to"])].append(str(edge["from"]))
    row: dict[str, float] = {}
    pos: dict[str, tuple[float, float]] = {}
    tallest = max((len(v) for v in layers.values()), default=1)
    for hop in sorted(layers):
        members = sorted(layers[hop], key=lambda n: (
            sum(row.get(s, 0.0) for s in senders[n]) / len(senders[n]) if senders[n] else 0.0,
            nodes[n].get("role") == "cash", n))
        offset = (tallest - len(members)) / 2
        for i, node_id in enumerate(members):
            row[node_id] = offset + i
            pos[node_id] = (hop * X_STEP, (offset + i) * Y_STEP)
    return pos


def _fill(node: dict) -> str:
    role = node.get("role")
    if role in ROLE_COLOURS and node.get("hold_status") is None:
        return ROLE_COLOURS[role]
    return HOLD_COLOURS.get(node.get("hold_status"), HOLD_COLOURS[None])


def _draw_node(ax, node: dict, xy: tuple[float, float]) -> None:  # noqa: ANN001 - matplotlib Axes
    x, y = xy
    fill = _fill(node)
    dark = fill in (ROLE_COLOURS["cash"], HOLD_COLOURS["held"], HOLD_COLOURS["requested"],
                    HOLD_COLOURS["review"], HOLD_COLOURS["rejected"])
    ink = "white" if dark else "#202124"
    ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H,
                                boxstyle="round,pad=0.02,rounding_size=0.15", facecolor=fill,
                                edgecolor="#5f6368", linewidth=1.0, zorder=3))
    role = str(node.get("role") or "")
    title = "cash withdrawal" if role == "cash" else f"{node.get('bank', '')} {node.get('account', '')}"
    status = node.get("hold_status")
    subtitle = role if status is None else f"{role}, {status}"
    ax.text(x, y - 0.25, title, ha="center", va="center", fontsize=9, fontweight="bold", color=ink, zorder=4)
    ax.text(x, y + 0.02, subtitle, ha="center", va="center", fontsize=8, color=ink, zorder=4)
    if as_satang(node.get("traced_satang")) is not None:
        ax.text(x, y + 0.28, thb(node.get("traced_satang"), "en"), ha="center", va="center", fontsize=9,
                color=ink, zorder=4)


def _draw_edge(ax, edge: dict, pos: dict, index: int, edges: list[dict]) -> None:  # noqa: ANN001
    src, dst = str(edge["from"]), str(edge["to"])
    (x0, y0), (x1, y1) = pos[src], pos[dst]
    # Parallel transfers between the same two accounts bend apart so each label stays readable.
    twins = [i for i, e in enumerate(edges) if str(e["from"]) == src and str(e["to"]) == dst]
    rad = 0.0 if len(twins) == 1 else 0.25 * (twins.index(index) - (len(twins) - 1) / 2)
    start = (x0 + BOX_W / 2, y0) if x1 > x0 else (x0, y0 + BOX_H / 2)
    end = (x1 - BOX_W / 2, y1) if x1 > x0 else (x1, y1 - BOX_H / 2)
    ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
                                 mutation_scale=14, color="#5f6368", linewidth=1.4, zorder=2))
    traced, amount = as_satang(edge.get("traced_satang")), as_satang(edge.get("amount_satang"))
    label = thb(traced if traced is not None else amount, "en")
    if traced is not None and amount is not None and amount != traced:
        label += f"\nof {thb(amount, 'en')}"
    # Midpoint of the arc3 curve: half the control point's offset from the chord's midpoint.
    mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
    dx, dy = end[0] - start[0], end[1] - start[1]
    lx, ly = mx + rad / 2 * dy, my - rad / 2 * dx
    ax.text(lx, ly, label, ha="center", va="center", fontsize=8, color="#202124", zorder=5,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})


def _legend(ax, nodes: dict[str, dict]) -> None:  # noqa: ANN001
    shown = [s for s in HOLD_COLOURS if s is not None and any(n.get("hold_status") == s for n in nodes.values())]
    if not shown:
        return
    handles = [Patch(facecolor=HOLD_COLOURS[s], edgecolor="#5f6368", label=f"hold {s}") for s in shown]
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False, ncol=len(handles))
