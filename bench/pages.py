"""Every patient page, the sign-in page and the clinician dashboard: critical-path
bytes, Lighthouse scores, LCP against a bare page.

For each page it prints the compressed size of the critical path (the HTML and every
render-blocking stylesheet and script, gzip as served), the Lighthouse (mobile) scores
and LCP, and the LCP relative to a bare one-heading page served by the same server in
the same run (aim: at most 1.3x; critical path at most 14 KB gzip, the first round
trip's worth: the project's goals, issue 22 points 1 and 4). Ratios, because the
machine is shared and absolute times drift: the bare page and the page alternate, and
each figure is the median of BENCH_RUNS (3) quiet pairs. A pair whose bare LCP is over
1.25x the run's quickest was measured on a busy machine and is left out; a page with
too few quiet pairs after BENCH_TRIES (6) is not judged, and the run says so and exits
2. Exit 0 PASS, 1 BELOW AIM. Needs Node (tools/node_modules) and Chromium.
"""

from __future__ import annotations

import gzip
import os
import re
import statistics
import subprocess
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

# (path, who is signed in): every patient page, the sign-in page and the clinician
# dashboard (issue 22 point 4).
PATIENT = ("day3@demo.sclerocare.example", audit.PASSWORD)
CLINICIAN = ("clinician@demo.sclerocare.example", audit.STAFF_PASSWORD)
PAGES = [
    ("/login", None),
    ("/patient/today", PATIENT),
    ("/patient/checklist", PATIENT),
    ("/patient/plan", PATIENT),
    ("/patient/diary", PATIENT),
    ("/patient/checkin", PATIENT),
    ("/patient/photos", PATIENT),
    ("/patient/reminders", PATIENT),
    ("/clinic/", CLINICIAN),
]
# BENCH_PAGES=/patient/checkin,/clinic/ measures only those (to re-check a page).
ONLY = [p for p in os.environ.get("BENCH_PAGES", "").split(",") if p]
PAGES = [(path, who) for path, who in PAGES if not ONLY or path in ONLY]
BARE = "/_bench/bare"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
# Pairs tried per page before giving up: RUNS quiet ones are needed.
TRIES = int(os.environ.get("BENCH_TRIES", str(RUNS + 3)))
# A pair whose bare-page LCP is this much over the quickest bare LCP of the run ran on a
# busy machine (Lighthouse's simulated LCP still scales with the CPU time it observes).
NOISY = 1.25
TAG = re.compile(r"<(link|script)\b([^>]*)>", re.I)


def fetch(url: str, cookie: str | None) -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    if cookie:
        request.add_header("Cookie", f"session={cookie}")
    with urllib.request.urlopen(request) as response:
        body = response.read()
        encoding = response.headers.get("Content-Encoding", "")
    plain = gzip.decompress(body) if encoding == "gzip" else body
    return body if encoding == "gzip" else gzip.compress(body), plain.decode("utf-8", "replace")


def blocking(html: str) -> list[str]:
    """Stylesheets (head or body) and scripts without defer/async/module: what can hold
    back the first paint (the same rule as tests/web/test_first_paint.py)."""
    urls = []
    for tag, attrs in TAG.findall(html):
        if tag.lower() == "link" and re.search(r'rel="stylesheet"', attrs):
            urls += re.findall(r'href="([^"]+)"', attrs)
        elif tag.lower() == "script" and not re.search(r"\b(defer|async)\b|module", attrs):
            urls += re.findall(r'src="([^"]+)"', attrs)
    return urls


def critical_bytes(base: str, path: str, cookie: str | None) -> int:
    """Gzipped bytes of the HTML plus every render-blocking stylesheet and script."""
    wire, html = fetch(base + path, cookie)
    return len(wire) + sum(len(fetch(base + ref, None)[0]) for ref in blocking(html))


def measure(base: str, path: str, cookie: str | None, best_bare: list[float]) -> dict:
    """Bare page then this page, interleaved, until RUNS quiet pairs (or TRIES pairs)."""
    quiet_bare, quiet_page, noisy, scores = [], [], 0, {}
    for _ in range(TRIES):
        bare = audit.lighthouse(base + BARE, None)["lcp_ms"]
        scores = audit.lighthouse(base + path, cookie)
        best_bare[0] = min(best_bare[0], bare)
        if bare > NOISY * best_bare[0]:
            noisy += 1
            continue
        quiet_bare.append(bare)
        quiet_page.append(scores["lcp_ms"])
        if len(quiet_bare) >= RUNS:
            break
    return {"bare": quiet_bare, "page": quiet_page, "noisy": noisy, "scores": scores}


def main() -> int:
    audit.ensure_node_tools()
    env_app = "bench.pages_wsgi:app"
    head = ("page", "critical KB", "perf", "a11y", "bp", "seo", "LCP ms", "LCP/bare", "pairs")
    failures, unmeasured = [], []
    best_bare = [float("inf")]
    with tempfile.TemporaryDirectory() as tmp:
        server, base, _ids = audit.start_app(Path(tmp), wsgi=env_app)
        try:
            cookies = {who: audit.session_cookie(base, *who) for who in {w for _, w in PAGES if w}}
            print("{:22} {:>11} {:>5} {:>5} {:>5} {:>5} {:>8} {:>9} {:>9}".format(*head))
            for path, who in PAGES:
                cookie = cookies.get(who)
                size = critical_bytes(base, path, cookie)
                m = measure(base, path, cookie, best_bare)
                cats = [m["scores"][k] for k in ("performance", "accessibility", "best-practices")]
                cats.append(m["scores"]["seo"])
                quiet = len(m["page"])
                if quiet < RUNS:
                    unmeasured.append(
                        f"{path}: {quiet} quiet pair(s) of {RUNS} ({m['noisy']} noisy)"
                    )
                    lcp, ratio = float("nan"), float("nan")
                else:
                    lcp = statistics.median(m["page"])
                    ratio = lcp / statistics.median(m["bare"])
                print(
                    f"{path:22} {size / 1024:11.1f} " + " ".join(f"{c:5d}" for c in cats),
                    f"{lcp:8.0f} {ratio:9.2f} {quiet:>4}+{m['noisy']}n",
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
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:  # a busy machine: do not lose the figures
                server.kill()
                server.wait(10)
    print(
        f"quickest bare-page LCP: {best_bare[0]:.0f} ms; median of {RUNS} quiet pairs per page "
        f"(a pair is noisy when its bare LCP is over {NOISY}x the quickest)"
    )
    for f in failures:
        print(f"BELOW AIM {f}")
    if unmeasured:
        for u in unmeasured:
            print(f"TOO NOISY {u}")
        print("TOO NOISY: some pages could not be judged; run again on a quieter machine")
        return 2
    print("PASS all pages" if not failures else "BELOW AIM")
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
