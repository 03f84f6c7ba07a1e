// ScleroCare: photos travel light on a phone network (issue 19 point 8).
// A 12 MP phone photo is 3-6 MB, and the server keeps it at most PHOTO_LONG_EDGE px
// anyway (app/adapters/imaging.py). Where the browser can, the photo is made that size
// here, upright and re-encoded as JPEG at the server's quality, BEFORE it is sent: about
// 0.7 MB instead of 4 MB. The form is still sent as a normal form POST (CSRF token, area
// and note as they are), with the smaller file put in place of the chosen one. The server
// still decodes, re-encodes and strips every upload and stays the only judge.
// Whenever anything is in doubt (a format or a browser this cannot handle, a damaged
// file, an error, a result no smaller), the chosen file is sent as it is, silently.
// Forms opt in with data-photo-edge, data-photo-quality and data-photo-max-pixels (the
// server's PHOTO_LONG_EDGE, PHOTO_JPEG_QUALITY and PHOTO_MAX_PIXELS).
"use strict";
(function () {
  // imaging.DRAFT_SLACK and imaging._fit: the server takes an integer reduction that
  // lands within 95 % of the long edge as it is. Copying the same sizes here makes the
  // stored photo the same size whichever path it came by (tests check it).
  var SLACK = 0.95;
  var HEAD_BYTES = 512 * 1024; // JPEG APP segments (EXIF, XMP, ICC, MPF) sit before this
  var TAIL_BYTES = 64 * 1024;
  var WAIT_MS = 20000; // a phone slower than this sends the original instead

  var forms = Array.prototype.slice.call(document.querySelectorAll("form[data-photo-edge]"));
  if (!forms.length) { return; }
  var capable = Boolean(window.createImageBitmap && window.DataTransfer && window.File &&
    window.Blob && Blob.prototype.arrayBuffer && HTMLCanvasElement.prototype.toBlob);

  // Python's round(): halves go to the even neighbour, as the server's sizes do.
  function pyRound(x) {
    var r = Math.round(x);
    return (r - x === 0.5 && r % 2 !== 0) ? r - 1 : r;
  }

  // The size the server stores for a w x h picture (imaging.process: JPEG draft, then _fit).
  function storedSize(w, h, jpeg, edge) {
    var near = Math.floor(edge * SLACK);
    var f, s, scale;
    if (jpeg && Math.max(w, h) > near) {
      f = near / Math.max(w, h);
      scale = Math.min(Math.floor(w / Math.max(1, pyRound(w * f))), Math.floor(h / Math.max(1, pyRound(h * f))));
      s = [8, 4, 2, 1].filter(function (a) { return scale >= a; })[0] || 1;
      w = Math.floor((w + s - 1) / s);
      h = Math.floor((h + s - 1) / s);
    }
    if (Math.max(w, h) <= edge) { return [w, h]; }
    s = Math.floor(Math.max(w, h) / near);
    if (s >= 2) {
      w = Math.floor((w + s - 1) / s);
      h = Math.floor((h + s - 1) / s);
      if (Math.max(w, h) <= edge) { return [w, h]; }
    }
    f = edge / Math.max(w, h);
    return [Math.max(1, pyRound(w * f)), Math.max(1, pyRound(h * f))];
  }

  // EXIF orientation (1-8) from an APP1 "Exif" segment starting at `at`; 1 if unreadable.
  function exifOrientation(v, at, end) {
    if (v.getUint32(at) !== 0x45786966) { return 1; } // "Exif"
    var tiff = at + 6;
    var little = v.getUint16(tiff) === 0x4949;
    var ifd = tiff + v.getUint32(tiff + 4, little);
    if (ifd + 2 > end) { return 1; }
    var n = v.getUint16(ifd, little);
    for (var i = 0; i < n && ifd + 2 + i * 12 + 12 <= end; i++) {
      var entry = ifd + 2 + i * 12;
      if (v.getUint16(entry, little) === 0x0112) {
        var value = v.getUint16(entry + 8, little);
        return value >= 1 && value <= 8 ? value : 1;
      }
    }
    return 1;
  }

  // What the first bytes say: format, stored width and height, orientation, and where
  // a JPEG's picture data starts. null for anything this does not shrink.
  function readHead(v) {
    if (v.byteLength > 24 && v.getUint32(0) === 0x89504e47 && v.getUint32(12) === 0x49484452) {
      return { format: "png", width: v.getUint32(16), height: v.getUint32(20), orientation: 1 };
    }
    if (v.byteLength > 12 && v.getUint32(4) === 0x66747970) { // "ftyp": HEIF/HEIC, sizes from decoding
      var brand = String.fromCharCode(v.getUint8(8), v.getUint8(9), v.getUint8(10), v.getUint8(11));
      return /^(heic|heix|heim|heis|hevc|hevx|mif1|msf1)$/.test(brand) ? { format: "heif", orientation: 1 } : null;
    }
    if (v.byteLength < 4 || v.getUint16(0) !== 0xffd8) { return null; }
    var head = { format: "jpeg", orientation: 1 };
    var at = 2;
    while (at + 4 <= v.byteLength) {
      if (v.getUint8(at) !== 0xff) { return null; }
      var marker = v.getUint8(at + 1);
      if (marker === 0xff) { at += 1; continue; }
      var length = v.getUint16(at + 2);
      if (marker === 0xe1 && at + 4 + length <= v.byteLength && !head.sof) {
        head.orientation = exifOrientation(v, at + 4, at + 2 + length);
      } else if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        if (at + 9 > v.byteLength) { return null; }
        head.height = v.getUint16(at + 5);
        head.width = v.getUint16(at + 7);
        head.sof = true;
      } else if (marker === 0xda) {
        head.data = at;
        return head.sof ? head : null;
      }
      at += 2 + length;
    }
    return null;
  }

  // A file cut short is one the server refuses as damaged; a browser might still draw
  // it, so only a picture whose end is there is shrunk: a JPEG's end marker (FF D9;
  // inside JPEG picture data it only ever means the end), a PNG's IEND chunk.
  function ends(file, from, mark) {
    return file.slice(Math.max(from, file.size - TAIL_BYTES)).arrayBuffer().then(function (buf) {
      var b = new Uint8Array(buf);
      for (var i = b.length - mark.length; i >= 0; i--) {
        for (var k = 0; k < mark.length && b[i + k] === mark[k]; k++) { /* compare */ }
        if (k === mark.length) { return true; }
      }
      return false;
    });
  }
  var JPEG_END = [0xff, 0xd9];
  var PNG_END = [0x49, 0x45, 0x4e, 0x44]; // "IEND"

  // A 16 x 8 JPEG, black on the left, white on the right, with EXIF orientation 6: drawn
  // upright it is 8 x 16, black at the top. A browser that draws it otherwise does not
  // turn photos upright as asked, so their originals are sent (the server turns them).
  var PROBE = "/9j/4AAQSkZJRgABAQAAAQABAAD/4QAiRXhpZgAATU0AKgAAAAgAAQESAAMAAAABAAYAAAAAAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAAIABABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/APn+vv8Ar//Z";
  var turnsUpright = null;
  function checkTurning() {
    if (!turnsUpright) {
      var bytes = atob(PROBE);
      var raw = new Uint8Array(bytes.length);
      for (var i = 0; i < bytes.length; i++) { raw[i] = bytes.charCodeAt(i); }
      turnsUpright = decode(new Blob([raw], { type: "image/jpeg" }), [4, 8]).then(function (bitmap) {
        var canvas = document.createElement("canvas");
        canvas.width = 4;
        canvas.height = 8;
        var ctx = canvas.getContext("2d");
        ctx.drawImage(bitmap, 0, 0, 4, 8);
        var top = ctx.getImageData(2, 1, 1, 1).data[0];
        var bottom = ctx.getImageData(2, 6, 1, 1).data[0];
        return top < 80 && bottom > 170;
      }).catch(function () { return false; });
    }
    return turnsUpright;
  }

  // Decoded upright and, where the browser can, scaled in the same step (half the time
  // of a full-size decode and a scaled draw). Browsers that ignore the resize options
  // give the full picture, which encode() then scales.
  function decode(blob, size) {
    return window.createImageBitmap(blob, {
      imageOrientation: "from-image",
      resizeWidth: size[0],
      resizeHeight: size[1],
      resizeQuality: "high"
    });
  }

  function encode(bitmap, size, quality) {
    var canvas = document.createElement("canvas");
    canvas.width = size[0];
    canvas.height = size[1];
    var ctx = canvas.getContext("2d");
    // Transparency becomes white, as on the server (imaging._to_srgb), not black.
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size[0], size[1]);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(bitmap, 0, 0, size[0], size[1]);
    if (bitmap.close) { bitmap.close(); }
    return new Promise(function (resolve) {
      canvas.toBlob(resolve, "image/jpeg", quality / 100);
    });
  }

  // The file to send for `file`: a smaller upright JPEG, or `file` itself. A picture
  // over the server's pixel cap is not decoded here (it could take the whole phone's
  // memory) but sent, for the server to refuse with its own message.
  function shrink(file, edge, quality, maxPixels) {
    if (!capable || !file || !file.size) { return Promise.resolve(file); }
    var head;
    var size;
    return file.slice(0, HEAD_BYTES).arrayBuffer().then(function (buf) {
      head = readHead(new DataView(buf));
      if (!head || (maxPixels && head.width * head.height > maxPixels)) { return null; }
      if (head.format === "jpeg") {
        // EXIF orientations 5-8 turn the picture a quarter: width and height swap.
        var turned = head.orientation >= 5;
        var s = storedSize(head.width, head.height, true, edge);
        size = turned ? [s[1], s[0]] : s;
        head.upright = turned ? [head.height, head.width] : [head.width, head.height];
        if (s[0] === head.width && s[1] === head.height) { return null; } // already small
        return Promise.all([ends(file, head.data, JPEG_END), head.orientation === 1 || checkTurning()])
          .then(function (ok) { return ok[0] && ok[1] ? decode(file, size) : null; });
      }
      if (head.format === "png") {
        size = storedSize(head.width, head.height, false, edge);
        head.upright = [head.width, head.height];
        if (size[0] === head.width && size[1] === head.height) { return null; }
        return ends(file, 33, PNG_END).then(function (whole) { return whole ? decode(file, size) : null; });
      }
      // HEIF: its size is only known once decoded (where the browser can at all).
      return window.createImageBitmap(file, { imageOrientation: "from-image" });
    }).then(function (bitmap) {
      if (!bitmap) { return null; }
      if (head.format === "heif") {
        if (maxPixels && bitmap.width * bitmap.height > maxPixels) { bitmap.close(); return null; }
        size = storedSize(bitmap.width, bitmap.height, false, edge);
        head.upright = [bitmap.width, bitmap.height];
      }
      // Scaled as asked, or full size upright (resize options ignored) and scaled next;
      // anything else (not turned as the header says, already small): the original.
      var scaled = bitmap.width === size[0] && bitmap.height === size[1];
      var full = bitmap.width === head.upright[0] && bitmap.height === head.upright[1];
      if (!(scaled || full) || (size[0] === head.upright[0] && size[1] === head.upright[1])) {
        if (bitmap.close) { bitmap.close(); }
        return null;
      }
      return encode(bitmap, size, quality);
    }).then(function (blob) {
      if (!blob || blob.type !== "image/jpeg" || blob.size >= file.size) { return file; }
      var name = (file.name || "photo").replace(/\.[^.]*$/, "") + ".jpg";
      return new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified });
    }).catch(function () { return file; });
  }

  function setFile(input, file) {
    var transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
  }

  forms.forEach(function (form) {
    var edge = parseInt(form.dataset.photoEdge, 10);
    var quality = parseInt(form.dataset.photoQuality || "88", 10);
    var maxPixels = parseInt(form.dataset.photoMaxPixels || "0", 10);
    var sending = form.querySelector("[data-photo-sending]");
    var jobs = []; // {input, original, done, promise}
    var waiting = false;
    if (!(edge > 0)) { return; }

    // Work starts as soon as a photo is chosen, so it is usually ready by the time the
    // area is picked and Save is pressed.
    function start(input) {
      jobs = jobs.filter(function (j) { return j.input !== input; });
      var original = input.files && input.files[0];
      if (!original) { return; }
      var job = { input: input, original: original, done: false };
      job.promise = shrink(original, edge, quality, maxPixels).then(function (chosen) {
        job.done = true;
        // Still the photo in that input (not replaced or removed meanwhile)?
        if (!(input.files && input.files[0] === original)) { return; }
        if (chosen !== original) {
          try { setFile(input, chosen); } catch (e) { chosen = original; }
        }
        // photos.js shows the preview from this file: one small decode, not a 12 MP one.
        form.dispatchEvent(new CustomEvent("sc-photo-done", { detail: { input: input, file: chosen } }));
      });
      jobs.push(job);
    }
    form.addEventListener("change", function (event) {
      var input = event.target;
      if (input && input.type === "file" && input.name === "photo") { start(input); }
    });
    // photos.js puts a frame from the live camera into an input this way.
    form.addEventListener("sc-photo-chosen", function (event) { start(event.detail.input); });

    // The status line is there (empty) from the start, so screen readers announce it.
    function showSending(on) {
      if (sending) { sending.textContent = on ? sending.getAttribute("data-photo-sending") : ""; }
    }
    window.addEventListener("pageshow", function () { showSending(false); }); // back button

    function resubmit(submitter) {
      if (form.requestSubmit) {
        form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
        return;
      }
      var again = new Event("submit", { bubbles: true, cancelable: true });
      if (form.dispatchEvent(again)) { form.submit(); }
    }

    // Capture phase: before the page's own checks (size, area) and app.js's double-tap
    // guard, which then see the file that will really be sent.
    document.addEventListener("submit", function (event) {
      if (event.target !== form || navigator.onLine === false) { return; }
      var pending = jobs.filter(function (j) {
        return !j.done && j.input.files && j.input.files[0] === j.original;
      });
      if (!pending.length) {
        window.setTimeout(function () { if (!event.defaultPrevented) { showSending(true); } }, 0);
        return;
      }
      event.preventDefault();
      event.stopImmediatePropagation();
      showSending(true);
      if (waiting) { return; } // a second tap while the photo is being made smaller
      waiting = true;
      var timeout = new Promise(function (resolve) { window.setTimeout(resolve, WAIT_MS); });
      var all = Promise.all(pending.map(function (j) { return j.promise; }));
      Promise.race([all, timeout]).then(function () {
        pending.forEach(function (j) { j.done = true; }); // late results are not waited for
        waiting = false;
        showSending(false);
        resubmit(event.submitter);
      });
    }, true);
  });

  // For tests and for checking the arithmetic against the server's.
  window.scPhotoShrink = { capable: capable, storedSize: storedSize, shrink: shrink };
})();
