// ScleroCare service worker: an offline page for navigations, and reminders (web push).
// Health data is kept here only where the patient expects it, and only until sign-out
// (a shared phone): their offline pages and their photo thumbnails. Notifications show
// only the generic words the server sent.
"use strict";
// Caching rules (issue: offline-first, but health data only where the patient expects it):
// - versioned static assets and the offline page are precached;
// - the patient's own Today, Checklist and Plan pages are kept from the last visit so
//   they can be read offline (the page marks itself "offline, last updated ...");
//   they are purged on sign-out, when another person signs in on this device, and when
//   any answer shows the server has ended the session (signedOut below);
// - the patient's photo thumbnails, so the photo diary is not downloaded again on every
//   visit (issue 22 point 5; docs/decisions/photo-thumbnail-cache.md): only URLs that
//   carry the viewer's key (?k=, app/services/photos/album.py thumb_key), so a URL is
//   one person's; purged with the pages;
// - full-size photos, clinician pages, API and every other response are never cached;
// - "Download my data" (EXPORT_PREFIX) is not even seen: the browser fetches it itself,
//   so no copy of a patient's whole record can be kept here (issue 20 point 5).
const VERSION = "__ASSET_VERSION__"; // filled in when served (app/assets.py)
const CACHE = "sclerocare-static-" + VERSION;
const PAGES = "sclerocare-pages";
const THUMBS = "sclerocare-thumbs";
const THUMB_PATH = /^\/patient\/photos\/\d+\/thumb$/;
const OFFLINE_PAGES = ["/patient/today", "/patient/checklist", "/patient/plan", "/patient/checkin"];
const REFRESH_AFTER_MS = 30 * 60 * 1000;
const PRECACHE = ["__PRECACHE__"]; // versioned URLs, filled in when served
// A patient's scripts and styles (app/assets.py PATIENT_ASSETS), cached once someone is
// signed in, not at install: the sign-in page must not download them (issue 22 point 4).
const PATIENT_ASSETS = ["__PATIENT_ASSETS__"];
const HOME = "/patient/today";
const FALLBACK_TITLE = "ScleroCare";
const FALLBACK_BODY = "You have a new reminder. Open ScleroCare to see it.";
const RESUBSCRIBE_URL = "/push/resubscribe";
// The sign-in and PIN pages carry this header when nobody is signed in (app/auth/device.py).
const SIGNED_OUT_HEADER = "X-Sclero-Signed-Out";
const SIGN_IN_PATHS = ["/login", "/login/pin"];
// Every export URL starts with this (app/patient/export.py); they are never handled here.
const EXPORT_PREFIX = "/patient/export";

// A new release's worker precaches only what the sign-in page needs, and activating it
// deletes the old static cache. A patient's kept pages survive the update and need their
// scripts offline (app.js queues ticks and check-ins, triage.js shows urgent advice), so
// when pages are kept, the patient's scripts go into the new cache here, before the old
// one goes: nothing else would cache them until the next online visit.
function precachePatientIfKept() {
  return caches.has(PAGES).then((has) => (has ? caches.open(PAGES) : null))
    .then((cache) => (cache ? cache.keys() : []))
    .then((kept) => (kept.length ? precachePatient() : null))
    .catch(() => null);
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(PRECACHE))
    .then(precachePatientIfKept).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  // Old static caches go; the pages cache survives an app update (same user's pages).
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE && k !== PAGES && k !== THUMBS)
        .map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function isOfflinePage(url) {
  return url.origin === self.location.origin && OFFLINE_PAGES.indexOf(url.pathname) !== -1;
}

// Whether an answer says nobody is signed in any more: the server ended the session
// (idle, 12 hours, signed out elsewhere, password changed). The kept pages are this
// person's health data, so they go at once. The unsent ticks and check-ins are not
// here (the page keeps them) and stay, to be sent after signing in again.
function signedOut(response) {
  if (!response) return false;
  if (response.status === 401 || response.headers.get(SIGNED_OUT_HEADER) === "1") return true;
  if (!response.redirected || !response.url) return false;
  const url = new URL(response.url);
  return url.origin === self.location.origin && SIGN_IN_PATHS.indexOf(url.pathname) !== -1;
}

// Caches the patient's scripts and styles that are not cached yet. Asked by app.js on a
// signed-in page, and done here too whenever a patient's page is kept for offline use.
// An unchanged file keeps its versioned URL across releases: it is copied from the old
// cache (no download, and it works even if the signal dropped just after the update).
function precachePatient() {
  return caches.open(CACHE).then((cache) => Promise.all(PATIENT_ASSETS.map(
    (url) => cache.match(url).then((hit) => (hit ? null : caches.match(url)
      .then((old) => (old ? cache.put(url, old) : cache.add(url)))))
  ))).catch(() => null);
}

// Counts purges: a page whose download began before a purge is not put back after it.
let generation = 0;

// Everything kept for the person signed in: their pages and their photo thumbnails.
function forgetPages() {
  generation += 1;
  return Promise.all([caches.delete(PAGES), caches.delete(THUMBS)]);
}

// The whole page is read before the kept copy is replaced: if the signal drops halfway
// through a refresh, the put never starts and the old copy stays (a put fed by a broken
// stream can leave no copy at all, which is when the patient needs it most).
function keep(path, response, started) {
  if (response.ok && !response.redirected && response.type === "basic") {
    return response.blob().then((body) => {
      if (started !== generation) return null; // signed out meanwhile: keep nothing
      return caches.open(PAGES).then((cache) => cache.put(
        path, new Response(body, { status: response.status, headers: response.headers })
      ));
    }).catch(() => null);
  }
  return Promise.resolve();
}

// One background refresh per page at a time (Today opened twice in a row must not start
// a second download of a page whose first is still on its way).
const refreshing = new Set();

// When Today is opened online, the other offline pages are refreshed in the background
// (at most every 30 minutes), so a patient who later loses signal can still tick and
// check in.
function refreshOthers() {
  return caches.open(PAGES).then((cache) => Promise.all(
    OFFLINE_PAGES.filter((p) => p !== HOME).map((path) => cache.match(path).then((hit) => {
      const age = hit ? Date.now() - new Date(hit.headers.get("Date") || 0).getTime() : Infinity;
      if (age < REFRESH_AFTER_MS || refreshing.has(path)) return null;
      refreshing.add(path);
      const started = generation;
      return fetch(path, { credentials: "same-origin" })
        .then((r) => (signedOut(r) ? forgetPages() : keep(path, r, started))).catch(() => null)
        .finally(() => refreshing.delete(path));
    }))
  ));
}

// Network first; a good answer for one of the patient's pages is kept for offline use.
// A redirect (to sign-in) or an error page is never stored; a signed-out answer drops
// every kept page.
function pageFromNetwork(event, url) {
  const started = generation;
  return fetch(event.request).then((response) => {
    if (signedOut(response)) {
      event.waitUntil(forgetPages());
    } else if (isOfflinePage(url)) {
      const copy = response.clone();
      event.waitUntil(Promise.all([
        precachePatient(),
        keep(url.pathname, copy, started).then(() => (url.pathname === HOME ? refreshOthers() : null)),
      ]));
    }
    return response;
  });
}

// A kept page is marked as a copy (on <html>), so the page can say "offline, last
// updated ..." instead of passing for live data.
function markedCopy(response) {
  return response.text().then((html) => new Response(
    html.replace("<html ", '<html data-offline-copy="1" '),
    { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } }
  ));
}

function pageOffline(url) {
  const fallback = () => caches.match("/offline");
  if (!isOfflinePage(url)) return fallback();
  return caches.open(PAGES).then((cache) => cache.match(url.pathname))
    .then((hit) => (hit ? markedCopy(hit) : fallback()));
}

function isThumb(url) {
  return url.origin === self.location.origin && THUMB_PATH.test(url.pathname) && url.searchParams.get("k");
}

// A photo thumbnail: from this phone's copy if there is one (a photo never changes under
// its id), else from the network, kept when it is the signed-in patient's JPEG. Not
// found (another person's photo, signed out) and errors are never kept; a download that
// began before a purge is not put back after it.
function thumbnail(event, url) {
  const started = generation;
  return caches.open(THUMBS).then((cache) => cache.match(url.href)).then((hit) => hit || fetch(event.request)
    .then((response) => {
      const jpeg = (response.headers.get("Content-Type") || "").indexOf("image/jpeg") === 0;
      if (response.ok && !response.redirected && response.type === "basic" && jpeg) {
        const copy = response.clone();
        event.waitUntil(copy.blob().then((body) => {
          if (started !== generation) return null;
          return caches.open(THUMBS).then((cache) => cache.put(
            url.href, new Response(body, { status: 200, headers: copy.headers })
          ));
        }).catch(() => null));
      }
      return response;
    }));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin === self.location.origin && url.pathname.startsWith(EXPORT_PREFIX)) return;
  if (isThumb(url)) {
    event.respondWith(thumbnail(event, url));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(pageFromNetwork(event, url).catch(() => pageOffline(url)));
    return;
  }
  if (url.origin === self.location.origin && url.pathname.startsWith("/static/")) {
    // Versioned URLs never change, so a cached copy is always right. Offline, a page
    // kept before an update may name a version that left with the old cache: the kept
    // script of the same name is better than none (no offline queue, no urgent advice).
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok && url.searchParams.has("v")) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      }).catch((error) => caches.open(CACHE)
        .then((cache) => cache.match(request, { ignoreSearch: true }))
        .then((other) => other || Promise.reject(error))))
    );
  }
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "purge-pages") {
    event.waitUntil(forgetPages());
  } else if (event.data && event.data.type === "precache-patient") {
    event.waitUntil(precachePatient());
  }
});

// ------------------------------------------------------------------ reminders

// Where a notification tap may go: a path on this site, or the Today page. Anything
// else (another site, "//host", "javascript:", not a string) goes to Today.
function notificationTarget(raw, origin) {
  if (typeof raw !== "string" || raw === "") return HOME;
  let url;
  try {
    url = new URL(raw, origin);
  } catch (e) {
    return HOME;
  }
  if (url.origin !== origin) return HOME;
  return url.pathname + url.search + url.hash;
}

function text(value) {
  return typeof value === "string" && value.trim() !== "" ? value : null;
}

// The notification for a push message's text: our own shape {title, body, tag,
// data: {url}}, or Declarative Web Push {web_push: 8030, notification: {title, body,
// navigate, tag}}. Unreadable messages still show a generic notification: a push
// that shows nothing makes iOS (and Chrome) drop the subscription.
function notificationFromPush(raw) {
  let message = null;
  try {
    message = JSON.parse(raw);
  } catch (e) {
    message = null;
  }
  if (!message || typeof message !== "object") message = {};
  let title, body, tag, url;
  if (message.web_push === 8030 && message.notification && typeof message.notification === "object") {
    const n = message.notification;
    title = text(n.title);
    body = text(n.body);
    tag = text(n.tag);
    url = text(n.navigate);
  } else {
    title = text(message.title);
    body = text(message.body);
    tag = text(message.tag);
    url = message.data && typeof message.data === "object" ? text(message.data.url) : null;
  }
  const options = {
    body: title ? body || "" : FALLBACK_BODY,
    data: { url: notificationTarget(url, self.location.origin) },
    icon: "/static/icons/icon-192.png",
  };
  if (tag) options.tag = tag;
  return { title: title || FALLBACK_TITLE, options: options };
}

self.addEventListener("push", (event) => {
  let raw = "";
  try {
    raw = event.data ? event.data.text() : "";
  } catch (e) {
    raw = "";
  }
  const n = notificationFromPush(raw);
  event.waitUntil(self.registration.showNotification(n.title, n.options));
});

async function openTarget(path) {
  const target = new URL(path, self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const ours = windows.filter((c) => new URL(c.url).origin === self.location.origin);
  const exact = ours.find((c) => c.url === target);
  if (exact) return exact.focus();
  if (ours.length) {
    const client = await ours[0].focus();
    try {
      // navigate() only works on pages this worker controls; otherwise open a window.
      const moved = await client.navigate(target);
      if (moved) return moved;
    } catch (e) {
      /* fall through */
    }
  }
  return self.clients.openWindow(target);
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  event.waitUntil(openTarget(notificationTarget(data.url, self.location.origin)));
});

// The push service replaced or expired our subscription: subscribe again with the
// same key and tell the server which endpoint the new one replaces. If this fails, the
// next time the patient opens the reminders page the subscription is re-confirmed.
async function renewSubscription(oldSubscription, newSubscription) {
  let fresh = newSubscription;
  if (!fresh) {
    const key = oldSubscription && oldSubscription.options && oldSubscription.options.applicationServerKey;
    if (!key) return null;
    fresh = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }
  if (!oldSubscription || !oldSubscription.endpoint) return null;
  return fetch(RESUBSCRIBE_URL, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ old_endpoint: oldSubscription.endpoint, subscription: fresh.toJSON() }),
  });
}

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(renewSubscription(event.oldSubscription, event.newSubscription));
});
