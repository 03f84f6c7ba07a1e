"""Patient pages: critical-path bytes, Lighthouse scores, LCP against a bare page.

For each patient page, it prints the compressed size of the critical path (the HTML
and the CSS and JS it loads, gzip as served), the Lighthouse (mobile) scores and LCP,
and the LCP relative to a bare one-heading page served by the same server in the same
run (aim: at most 1.3x; critical path at most 14 KB gzip, the first round trip's
worth: the project's goals, issue 22 points 1 and 4). Ratios, because the machine is
shared and absolute times drift. Needs Node (tools/node_modules) and Chromium.
"""

from __future__ import annotations

import gzip
import os
import re
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

# The project's goals (issue 22 points 1 and 4), not looser aims: LCP at most 1.3x a bare
# one-heading page, and a critical path that fits the first round trip (14 KB gzip).
LCP_AIM = 1.3
CRITICAL_KB = 14

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools import audit  # noqa: E402

PAGES = [
    "/login",
    "/patient/today",
    "/patient/checklist",
    "/patient/plan",
    "/patient/diary",
    "/patient/checkin",
]
BARE = "/_bench/bare"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def fetch(url: str, cookie: str | None) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    if cookie:
        request.add_header("Cookie", f"session={cookie}")
    with urllib.request.urlopen(request) as response:
        body = response.read()
        encoding = response.headers.get("Content-Encoding", "")
    plain = gzip.decompress(body) if encoding == "gzip" else body
    return body if encoding == "gzip" else gzip.compress(body), plain.decode("utf-8", "replace")


def critical_bytes(base: str, path: str, cookie: str | None) -> int:
    """Gzipped bytes of the HTML plus every stylesheet and script it loads."""
    wire, html = fetch(base + path, cookie)
    total = len(wire)
    for ref in re.findall(r'<(?:link rel="stylesheet" href|script src)="([^"]+)"', html):
        total += len(fetch(base + ref, None)[0])
    return total


def main() -> int:
    audit.ensure_node_tools()
    env_app = "bench.pages_wsgi:app"
    with tempfile.TemporaryDirectory() as tmp:
        server, base = audit.start_app(Path(tmp), wsgi=env_app)
        try:
            cookie = audit.session_cookie(base, "day3@demo.sclerocare.example", audit.PASSWORD)
            head = ("page", "critical KB", "perf", "a11y", "bp", "seo", "LCP ms", "LCP/bare")
            print("{:22} {:>11} {:>5} {:>5} {:>5} {:>5} {:>8} {:>9}".format(*head))
            failures = []
            for path in PAGES:
                size = critical_bytes(base, path, None if path == "/login" else cookie)
                # Interleave: bare page, then this page, RUNS times; medians of each.
                bare_lcp, page_lcp, scores = [], [], {}
                for _ in range(RUNS):
                    bare_lcp.append(audit.lighthouse(base + BARE, None)["lcp_ms"])
                    scores = audit.lighthouse(base + path, None if path == "/login" else cookie)
                    page_lcp.append(scores["lcp_ms"])
                ratio = statistics.median(page_lcp) / statistics.median(bare_lcp)
                cats = [
                    scores[k] for k in ("performance", "accessibility", "best-practices", "seo")
                ]
                lcp = statistics.median(page_lcp)
                print(
                    f"{path:22} {size / 1024:11.1f} " + " ".join(f"{c:5d}" for c in cats),
                    f"{lcp:8.0f} {ratio:9.2f}",
                    flush=True,
                )
                if size > CRITICAL_KB * 1024:
                    failures.append(
                        f"{path}: critical path {size / 1024:.1f} KB > {CRITICAL_KB} KB"
                    )
                if ratio > LCP_AIM:
                    failures.append(f"{path}: LCP {ratio:.2f}x the bare page > {LCP_AIM}x")
        finally:
            server.terminate()
            server.wait(10)
    bare_ms = statistics.median(bare_lcp)
    print(f"bare page median LCP (last): {bare_ms:.0f} ms; {RUNS} interleaved runs per page")
    for f in failures:
        print(f"BELOW AIM {f}")
    print("PASS all pages" if not failures else "BELOW AIM")
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
