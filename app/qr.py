"""QR codes of sign-in links, drawn on the server as inline SVG.

A front desk shows the code on its screen and the patient scans it with their phone's
camera, so nobody types a long link. It is drawn here, with ``segno``, rather than by a
web service or a script from another host: the link holds a sign-in token and must not
leave the server, and the page's CSP allows no other hosts anyway.
"""

from __future__ import annotations

from functools import lru_cache

import segno
from markupsafe import Markup
from markupsafe import escape


def qr_svg(url: str, label: str = "QR code of the link") -> Markup:
    """An ``<svg>`` of ``url`` as a QR code, sized by CSS (it has a viewBox only)."""
    # Trusted markup (bandit B704): segno's own SVG of the link, with an escaped label.
    return Markup(_svg(str(url), str(label)))  # nosec B704


# Per process: a pure function of the link and label, the same on every instance.
@lru_cache(maxsize=64)
def _svg(url: str, label: str) -> str:
    # Error correction M survives a smudged screen; a 4-module quiet zone is the
    # standard's minimum for phone cameras.
    code = segno.make(url, error="m", micro=False)
    svg = code.svg_inline(
        scale=1, border=4, omitsize=True, svgclass="qr-code", dark="#000", light="#fff"
    )
    # An image with a name for screen readers; crisp edges keep the modules square.
    return svg.replace(
        "<svg ",
        f'<svg role="img" aria-label="{escape(label)}" shape-rendering="crispEdges" ',
        1,
    )
