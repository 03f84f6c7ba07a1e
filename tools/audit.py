"""`make audit`: Lighthouse (mobile) and axe-core over the app's pages; fails below the bar.

* The scratch database gets the demo data and then real use (tools/audit_seed.py):
  check-ins every day, and photos stored through the app's own photo service, 200 of
  them for one patient, so every page is measured with what a course leaves behind.
* axe-core (WCAG 2.0/2.1/2.2 A and AA rules plus best practices) on every patient and
  clinician page, including error states: zero violations allowed.
* Lighthouse 12 (mobile) on every patient page (Today, Checklist, Plan, Diary,
  Check-in, Photos with 200 photos, Reminders), the sign-in page, and, signed in as a
  clinician, the dashboard, the 200-photo patient's page and their photos: 100 in every
  category (performance, accessibility, best practices, SEO), and no layout shift at
  all (CLS 0) on the photo pages. One run per page; up to three only when a run is
  below the bar (a busy shared machine only ever makes a run worse).

The app runs under gunicorn on 127.0.0.1 with a scratch SQLite database and photo
folder. Node tools come from `npm install` into tools/node_modules (git-ignored). A
machine without Node or Chromium skips with a clear message, unless REQUIRE_AUDIT=1
(set by CI), which makes that a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
PASSWORD = "demo patient 2026"
STAFF_PASSWORD = "demo clinician 2026"
DOMAIN = "demo.sclerocare.example"
DAY3 = f"day3@{DOMAIN}"  # a few photos, a check-in every day, stockings still on
ALBUM = f"day20@{DOMAIN}"  # 200 photos and 20 check-ins (tools/audit_seed.py)
CLINICIAN = f"clinician@{DOMAIN}"
# (path, who is signed in, whether the page must not shift at all); "{album}" is the
# 200-photo patient's id, "{day3}" day3@'s. The photo pages hold 40 thumbnails a page:
# their reserved size (width/height attributes) keeps the page still while they load.
LIGHTHOUSE_PAGES = [
    ("/login", None, False),
    ("/patient/today", DAY3, False),
    ("/patient/checklist", DAY3, False),
    ("/patient/plan", DAY3, False),
    ("/patient/diary", ALBUM, False),
    ("/patient/checkin", DAY3, False),
    ("/patient/photos", ALBUM, True),
    ("/patient/reminders", DAY3, False),
    ("/clinic/", CLINICIAN, False),
    # The 200-photo patient's page: its diary shows four thumbnails a day (lazy, their
    # boxes reserved) and links to the day's photo page for the rest (issue 22 point 5).
    ("/clinic/patients/{album}", CLINICIAN, True),
    ("/clinic/patients/{album}/photos", CLINICIAN, True),
]
BAR = {"performance": 100, "accessibility": 100, "best-practices": 100, "seo": 100}


def skip_or_fail(message: str) -> None:
    if os.environ.get("REQUIRE_AUDIT") == "1":
        print(f"audit: FAILED: {message}", file=sys.stderr)
        raise SystemExit(1)
    print(f"audit: skipped: {message}")
    raise SystemExit(0)


def ensure_node_tools() -> None:
    if not shutil.which("node") or not shutil.which("npm"):
        skip_or_fail("Node.js and npm are needed (apt-get install nodejs npm)")
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    if (
        not (TOOLS / "node_modules" / "lighthouse").exists()
        or not (TOOLS / "node_modules" / "axe-core").exists()
    ):
        print("audit: installing lighthouse and axe-core with npm ...", flush=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=TOOLS,
            check=True,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(
    workdir: Path, wsgi: str = "wsgi:app"
) -> tuple[subprocess.Popen, str, dict[str, int]]:
    """Migrate a scratch database, load the demo data and real use, start gunicorn.

    :returns: the server, its address and the 200-photo patient's id.
    """
    env = {
        **os.environ,
        "APP_ENV": "development",
        "FLASK_APP": "wsgi.py",
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'audit.db'}",
        "FLASK_PHOTO_STORAGE_DIR": str(workdir / "photos"),
    }
    flask = [sys.executable, "-m", "flask"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*flask, "dev", "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    seeded = subprocess.run(
        [sys.executable, "-m", "tools.audit_seed"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    *said, last = seeded.stdout.strip().splitlines()
    print("\n".join(said), flush=True)
    seeded_ids = json.loads(last)
    ids = {"album": seeded_ids["album_patient"], "day3": seeded_ids["day3_patient"]}
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            wsgi,
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://localhost:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/login", timeout=1)
            return server, base, ids
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("audit: the app did not start")


def run_axe(base: str) -> list[str]:
    """axe-core on every page, signed in as a patient, then as a clinician."""
    from playwright.sync_api import sync_playwright

    axe = (TOOLS / "node_modules" / "axe-core" / "axe.min.js").read_text()
    failures: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROME_FLAGS.split())
        # bypass_csp lets axe's script in; the app's own pages use no inline script.
        context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
        page = context.new_page()

        def visit(path: str) -> None:
            response = page.goto(base + path)
            if response is not None and response.status >= 500:
                failures.append(f"{path}: HTTP {response.status}")

        def check(label: str) -> None:
            page.add_script_tag(content=axe)
            result = page.evaluate(
                "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                AXE_TAGS,
            )
            count = len(result["violations"])
            print(f"  axe {label:42} {count} violation(s)")
            for v in result["violations"]:
                nodes = ", ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:3])
                failures.append(f"{label}: {v['id']} ({v['impact']}): {v['help']} [{nodes}]")

        page.goto(f"{base}/login")
        check("login")
        page.get_by_label("Email").fill("nobody@demo.sclerocare.example")
        page.get_by_label("Password").fill("wrong password!")
        page.get_by_role("button", name="Sign in").click()
        check("login (error)")
        page.goto(f"{base}/invite/not-a-token")
        check("invitation (expired link)")
        sign_in(page, base, "day3@demo.sclerocare.example", PASSWORD)
        for path in [
            "/patient/today",
            "/patient/checklist",
            "/patient/plan",
            "/patient/diary",
            "/patient/reminders",
            "/patient/checkin",
            "/patient/photos",
            "/patient/photos/new",
            "/patient/photos/compare",
            "/offline",
            "/no-such-page",
        ]:
            visit(path)
            check(path)
        page.goto(f"{base}/patient/checkin")
        page.get_by_role("button", name="Send check-in").click()
        check("/patient/checkin (errors)")
        page.goto(f"{base}/patient/today")
        for email, paths, state in (
            (ALBUM, ["/patient/photos", "/patient/diary"], "200 photos, 20 check-ins"),
            (f"tomorrow@{DOMAIN}", ["/patient/today", "/patient/checklist"], "before treatment"),
        ):
            sign_out(page)
            sign_in(page, base, email, PASSWORD)
            for path in paths:
                visit(path)
                check(f"{path} ({state})")
        sign_out(page)
        clinician_pages(page, base, visit, check, failures)
        browser.close()
    return failures


def clinician_pages(page, base: str, visit, check, failures: list[str]) -> None:  # noqa: ANN001
    """axe's clinician half: every staff page, a patient's pages, and two error states."""
    sign_in(page, base, "clinician@demo.sclerocare.example", STAFF_PASSWORD)
    page.goto(f"{base}/clinic/")
    check("/clinic/ (dashboard)")
    for path in [
        "/clinic/patients",
        "/clinic/patients/new",
        "/clinic/reminders",
        "/clinic/audit",
        "/clinic/settings",
    ]:
        visit(path)
        check(path)
    page.goto(f"{base}/clinic/patients")
    page.locator("table a").first.click()
    check("/clinic/patients/<id>")
    patient_url = page.url.split("?")[0]
    for suffix in ("/photos", "/photos/compare"):
        response = page.goto(patient_url + suffix)
        if response is not None and response.status >= 500:
            failures.append(f"/clinic/patients/<id>{suffix}: HTTP {response.status}")
        check(f"/clinic/patients/<id>{suffix}")
    page.goto(f"{base}/clinic/patients/new")
    page.get_by_role("button", name="Create patient and invitation link").click()
    check("/clinic/patients/new (errors)")
    page.goto(f"{base}/clinic/settings")
    page.get_by_label("Main phone number").fill("call us")
    page.get_by_role("button", name="Save settings").click()
    check("/clinic/settings (errors)")


def sign_in(page, base: str, email: str, password: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def sign_out(page) -> None:  # noqa: ANN001
    page.get_by_role("button", name="Sign out").click()
    # The sign-in page, with or without its "you have signed out" query.
    page.wait_for_url(lambda url: urlsplit(url).path == "/login")


def session_cookie(base: str, email: str, password: str) -> str:
    """Sign in over HTTP (CSRF included) and return the session cookie value."""
    import http.cookiejar
    import re
    import urllib.parse

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    data = urllib.parse.urlencode(
        {"email": email, "password": password, "csrf_token": token}
    ).encode()
    opener.open(f"{base}/login", data=data)
    return next(c.value for c in jar if c.name == "session")


def lighthouse(url: str, cookie: str | None) -> dict:
    """One mobile Lighthouse run: category scores (0-100), LCP in ms, CLS and the
    audits that did not pass."""
    cmd = [
        str(TOOLS / "node_modules" / ".bin" / "lighthouse"),
        url,
        "--quiet",
        "--output=json",
        "--output-path=stdout",
        f"--chrome-path={CHROMIUM}",
        f"--chrome-flags={CHROME_FLAGS}",
        "--only-categories=performance,accessibility,best-practices,seo",
    ]
    if cookie:
        cmd.append("--extra-headers=" + json.dumps({"Cookie": f"session={cookie}"}))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    if out.returncode != 0:
        raise RuntimeError(f"lighthouse failed on {url}: {out.stderr[-800:]}")
    report = json.loads(out.stdout)
    if report.get("finalDisplayedUrl", url).split("?")[0] != url.split("?")[0]:
        # A sign-in redirect would audit the sign-in page under this page's name.
        raise RuntimeError(f"lighthouse on {url} ended at {report.get('finalDisplayedUrl')}")
    scores = {k: round((v["score"] or 0) * 100) for k, v in report["categories"].items()}
    scores["lcp_ms"] = report["audits"]["largest-contentful-paint"]["numericValue"]
    scores["cls"] = report["audits"]["cumulative-layout-shift"]["numericValue"]
    scores["failed_audits"] = [
        a["id"]
        for a in report["audits"].values()
        if a.get("score") is not None
        and a["score"] < 1
        and a.get("scoreDisplayMode") in ("binary", "numeric")
    ]
    return scores


def shortfalls(scores: dict, still: bool) -> list[str]:
    """What keeps one run below the bar (empty: it passes)."""
    missing = [
        f"{category} {scores[category]} < {minimum}"
        for category, minimum in BAR.items()
        if scores[category] < minimum
    ]
    if still and scores["cls"] > 0:
        missing.append(f"CLS {scores['cls']:.3f} > 0")
    return missing


def run_lighthouse(base: str, ids: dict[str, int], only: list[str] | None = None) -> list[str]:
    """Lighthouse on ``LIGHTHOUSE_PAGES`` (or just those whose path starts with one of
    ``only``), printing each page's scores and every retried run's shortfall."""
    cookies: dict[str, str] = {}
    failures: list[str] = []
    for path, who, still in LIGHTHOUSE_PAGES:
        path = path.format(**ids)
        if only and not any(path.startswith(prefix) for prefix in only):
            continue
        if who and who not in cookies:
            password = STAFF_PASSWORD if who == CLINICIAN else PASSWORD
            cookies[who] = session_cookie(base, who, password)
        # One run, and up to two more only when it is below the bar, keeping the best:
        # on a shared 2-core machine another process only ever adds blocking time, so
        # one busy run is noise, three are a finding.
        best: dict = {}
        below: list[str] = []  # what each run below the bar missed, said when retried
        runs = 0
        while runs < 3:
            runs += 1
            run = lighthouse(base + path, cookies.get(who) if who else None)
            if shortfalls(run, still):
                below.append(f"run {runs}: {', '.join(shortfalls(run, still))}")
            # Fewest shortfalls first, then the best performance score.
            if not best or (len(shortfalls(run, still)), -run["performance"]) < (
                len(shortfalls(best, still)),
                -best["performance"],
            ):
                best = run
            if not shortfalls(best, still):
                break
        line = "  ".join(f"{k} {best[k]:3d}" for k in BAR)
        lcp, cls = best["lcp_ms"], best["cls"]
        tries = "" if runs == 1 else f"  (best of {runs} runs; {'; '.join(below)})"
        print(f"  lighthouse {path:28} {line}  LCP {lcp:.0f} ms  CLS {cls:.3f}{tries}", flush=True)
        missing = shortfalls(best, still)
        if missing:
            failed = ", ".join(best["failed_audits"])
            failures.append(f"{path}: {'; '.join(missing)} ({failed})")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-lighthouse", action="store_true", help="axe only")
    parser.add_argument(
        "--only",
        action="append",
        metavar="PATH",
        help="Lighthouse only on pages whose path starts with PATH (repeatable), no axe",
    )
    args = parser.parse_args()
    ensure_node_tools()
    with tempfile.TemporaryDirectory() as tmp:
        server, base, ids = start_app(Path(tmp))
        try:
            print(f"audit: app at {base}")
            failures = [] if args.only else run_axe(base)
            if not args.no_lighthouse:
                failures += run_lighthouse(base, ids, args.only)
        finally:
            server.terminate()
            server.wait(10)
    if failures:
        print("audit: FAILED", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        return 1
    axe_done = "axe skipped" if args.only else "axe: 0 violations"
    lighthouse_done = "" if args.no_lighthouse else "; Lighthouse 100, CLS 0 on photo pages"
    print(f"audit: passed ({axe_done}{lighthouse_done})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
