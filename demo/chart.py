"""The parts tree as a plotly sunburst: one wedge per part sized by its share of the surface."""

from __future__ import annotations

import plotly.graph_objects as go

from geosam2.io.palette import UNLABELLED_COLOR

from .images import hex_colour


def parts_sunburst(parts, unlabelled_share: float) -> go.Figure:
    """Sunburst of `parts` (geosam2.pipeline.session.Part), children inside their parent's ring.

    Each wedge's own value is the part's area share in percent (children add
    theirs on top); the faces no part owns yet form a grey "unlabelled" wedge.
    """
    ids = [str(p.id) for p in parts]
    labels = [p.name for p in parts]
    parents = ["" if p.parent is None else str(p.parent) for p in parts]
    values = [100.0 * p.area_share for p in parts]
    colours = [hex_colour(p.color) for p in parts]
    if unlabelled_share > 0:
        ids.append("unlabelled"), labels.append("unlabelled"), parents.append("")
        values.append(100.0 * unlabelled_share), colours.append(hex_colour(UNLABELLED_COLOR))
    figure = go.Figure(
        go.Sunburst(
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="remainder",
            marker=dict(colors=colours),
            hovertemplate="%{label}: %{value:.1f} % of the surface<extra></extra>",
        )
    )
    figure.update_layout(margin=dict(t=10, l=10, r=10, b=10), height=320)
    return figure
