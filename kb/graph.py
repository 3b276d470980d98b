"""The claim graph: typed nodes (source, setting, claim, model, behaviour, statement) and typed edges
(cites, measured_under, about, contrasts_with, reports), built with networkx from the knowledge base.

The database's `edges` table and the server's graph views are made from this same graph.
"""

from __future__ import annotations

import io
import json

import networkx as nx

from kb.format import claim_label, format_value

NODE_TYPES = ("source", "setting", "claim", "model", "behaviour", "statement")
EDGE_TYPES = ("cites", "measured_under", "about", "contrasts_with", "reports")


def node_id(kind: str, record_id: str) -> str:
    return f"{kind}:{record_id}"


def build_graph(kb) -> nx.MultiDiGraph:
    """Every record as a node and every reference between records as an edge, in a stable order."""
    graph = nx.MultiDiGraph(name="caveat")
    _add_vocabulary(graph, kb)
    for source in kb.sources.values():
        graph.add_node(node_id("source", source.id), type="source", id=source.id, label=source.title, kind=source.kind,
                       date=source.date, file=source.file, line=source.line)
    for setting in kb.settings.values():
        _add_setting(graph, kb, setting)
    for claim in kb.claims.values():
        _add_claim(graph, kb, claim)
    for claim in kb.claims.values():
        for other, differs_by, note in kb.contrasts_of(claim.id):
            graph.add_edge(node_id("claim", claim.id), node_id("claim", other), key="contrasts_with",
                           type="contrasts_with", differs_by=differs_by, note=note or "", file=claim.file, line=claim.line)
    for statement in kb.statements.values():
        _add_statement(graph, statement)
    return graph


def _add_vocabulary(graph, kb):
    for model in kb.models.values():
        graph.add_node(node_id("model", model.id), type="model", id=model.id, label=model.name,
                       developer=model.developer or "", file=model.file, line=model.line)
    for behaviour in kb.behaviours.values():
        graph.add_node(node_id("behaviour", behaviour.id), type="behaviour", id=behaviour.id, label=behaviour.label,
                       file=behaviour.file, line=behaviour.line)


def _add_setting(graph, kb, setting):
    conditions = {key: c.value for key, c in (setting.conditions or {}).items()}
    graph.add_node(node_id("setting", setting.id), type="setting", id=setting.id, label=setting.label,
                   conditions=conditions, file=setting.file, line=setting.line)
    source_id = kb.setting_sources.get(setting.id)
    if source_id in kb.sources:
        graph.add_edge(node_id("setting", setting.id), node_id("source", source_id), key="cites", type="cites",
                       file=setting.file, line=setting.line)


def _add_claim(graph, kb, claim):
    cid = node_id("claim", claim.id)
    graph.add_node(cid, type="claim", id=claim.id, label=claim_label(kb, claim), value=float(claim.value) if claim.value is not None else None,
                   value_display=format_value(claim), metric=claim.metric, verification=claim.verification,
                   rank=claim.rank, key_context=list(claim.key_context or []), bound=claim.bound or "",
                   conditions={key: c.value for key, c in kb.conditions_of(claim).items()},
                   file=claim.file, line=claim.line)
    targets = [("cites", node_id("source", kb.claim_sources.get(claim.id))),
               ("measured_under", node_id("setting", claim.setting)),
               ("about", node_id("model", claim.model)),
               ("about", node_id("behaviour", claim.behaviour))]
    for kind, target in targets:
        if target in graph:
            graph.add_edge(cid, target, key=kind, type=kind, file=claim.file, line=claim.line)


def _add_statement(graph, statement):
    sid = node_id("statement", statement.id)
    label = statement.label
    graph.add_node(sid, type="statement", id=statement.id, label=statement.text, who=statement.who,
                   verdict=(label.verdict or "") if label else "", file=statement.file, line=statement.line)
    for claim_id in statement.claims or []:
        if node_id("claim", claim_id) in graph:
            graph.add_edge(sid, node_id("claim", claim_id), key="reports", type="reports",
                           file=statement.file, line=statement.line_of("claims"))
    if statement.source and node_id("source", statement.source) in graph:
        graph.add_edge(sid, node_id("source", statement.source), key="cites", type="cites",
                       file=statement.file, line=statement.line)


def neighbourhood(graph: nx.MultiDiGraph, center: str, radius: int = 1) -> nx.MultiDiGraph:
    """The subgraph within `radius` edges of a node, ignoring edge direction.

    Walks an undirected *view* (no copy of the whole graph), so it costs what the neighbourhood costs.
    """
    nodes = nx.single_source_shortest_path_length(graph.to_undirected(as_view=True), center, cutoff=radius)
    return graph.subgraph(nodes).copy()


def to_json(graph: nx.MultiDiGraph) -> dict:
    """Node-link JSON (the format d3 and networkx read back)."""
    return nx.node_link_data(graph, edges="edges")


def to_graphml(graph: nx.MultiDiGraph) -> str:
    """GraphML text; list and dict attributes become JSON strings, as GraphML holds only scalars."""
    flat = nx.MultiDiGraph(name=graph.graph.get("name", ""))
    for node, data in graph.nodes(data=True):
        flat.add_node(node, **_scalars(data))
    for u, v, key, data in graph.edges(keys=True, data=True):
        flat.add_edge(u, v, key=key, **_scalars(data))
    buffer = io.BytesIO()
    nx.write_graphml(flat, buffer, encoding="utf-8")
    return buffer.getvalue().decode("utf-8")


def _scalars(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        if value is None:
            continue
        out[key] = json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value
    return out
