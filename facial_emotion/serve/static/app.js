"use strict";
// The upload page: send the photo to /api/predict, draw the boxes over it, one bar chart per face.
// Everything is local: no CDN, no fonts, no requests to other hosts (the page's CSP enforces it).

const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];
const MAX_CANVAS_SIDE = 1100;  // big photos are drawn smaller...
const MIN_CANVAS_SIDE = 480;   // ...and small ones (48x48 face crops) bigger, pixels kept sharp

const el = (id) => document.getElementById(id);
const state = { image: null, prediction: null, maxUploadMb: null, busy: false };

function setStatus(text, isError = false) {
  const status = el("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function loadHealth() {
  try {
    const response = await fetch("/health");
    const health = await response.json();
    const model = health.model;
    el("model").textContent = `model: ${model.name || model.uri}${model.version ? " version " + model.version : ""}`;
    state.maxUploadMb = health.max_upload_mb;
    el("limits").textContent = `JPEG, PNG, WebP, BMP, TIFF or GIF, up to ${health.max_upload_mb} MB`;
    el("whole-image").checked = Boolean(health.whole_image_fallback);
  } catch (error) {
    el("model").textContent = "model: unknown (the server does not answer /health)";
  }
}

function loadImage(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const image = new Image();
    image.onload = () => { URL.revokeObjectURL(url); resolve(image); };
    image.onerror = () => { URL.revokeObjectURL(url); reject(new Error("the browser cannot show this image")); };
    image.src = url;
  });
}

function percent(p) {
  return `${(100 * p).toFixed(1)}%`;
}

function draw() {
  const { image, prediction } = state;
  const canvas = el("canvas");
  if (!image) return;
  const side = Math.max(image.naturalWidth, image.naturalHeight);
  const fit = side > MAX_CANVAS_SIDE ? MAX_CANVAS_SIDE / side : side < MIN_CANVAS_SIDE ? MIN_CANVAS_SIDE / side : 1;
  canvas.width = Math.max(1, Math.round(image.naturalWidth * fit));
  canvas.height = Math.max(1, Math.round(image.naturalHeight * fit));
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = fit < 2;
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  if (!prediction || prediction.whole_image) return;
  // Boxes are in the server's pixels; scale per axis in case the browser decoded another size.
  const sx = canvas.width / prediction.image.width;
  const sy = canvas.height / prediction.image.height;
  const line = Math.max(2, Math.round(canvas.width / 300));
  ctx.font = `600 ${Math.max(12, Math.round(canvas.width / 45))}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  prediction.faces.forEach((face, i) => {
    const [x, y, w, h] = face.box;
    const color = COLORS[i % COLORS.length];
    ctx.lineWidth = line;
    ctx.strokeStyle = color;
    ctx.strokeRect(x * sx, y * sy, w * sx, h * sy);
    const text = `${i + 1} ${shownLabel(face)} ${percent(face.confidence)}`;
    const width = ctx.measureText(text).width + 8;
    const height = parseInt(ctx.font.match(/(\d+)px/)[1], 10) + 6;
    const top = y * sy - height >= 0 ? y * sy - height : y * sy;
    const left = Math.max(0, Math.min(x * sx - line / 2, canvas.width - width));  // keep the tag on the canvas
    ctx.fillStyle = color;
    ctx.fillRect(left, top, width, height);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, left + 4, top + height - 3);
  });
}

// Under the service's threshold the top class is not claimed: "uncertain (sadness?)".
function shownLabel(face) {
  return face.uncertain ? `uncertain (${face.label}?)` : face.label;
}

function faceCard(face, i, wholeImage) {
  const card = document.createElement("li");
  card.className = "face";
  card.style.setProperty("--face", COLORS[i % COLORS.length]);
  const title = document.createElement("h2");
  title.textContent = `${wholeImage ? "Whole image" : "Face " + (i + 1)}: ${shownLabel(face)} `;
  const where = document.createElement("span");
  where.className = "muted";
  where.textContent = `(${face.box[2]}\u00d7${face.box[3]} px at ${face.box[0]}, ${face.box[1]})`;
  title.append(where);
  const bars = document.createElement("div");
  bars.className = "bars";
  bars.setAttribute("role", "list");
  for (const [name, p] of Object.entries(face.probabilities)) {
    const row = document.createElement("div");
    row.className = "bar" + (name === face.label ? " top" : "");
    row.setAttribute("role", "listitem");
    row.dataset.label = name;
    row.dataset.probability = String(p);
    const label = document.createElement("span");
    label.textContent = name;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${Math.max(0, Math.min(100, 100 * p)).toFixed(2)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = percent(p);
    row.append(label, track, value);
    bars.append(row);
  }
  card.append(title, bars);
  return card;
}

function showFaces() {
  const list = el("faces");
  list.replaceChildren();
  const { prediction } = state;
  prediction.faces.forEach((face, i) => list.append(faceCard(face, i, prediction.whole_image)));
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  } catch (ignored) { /* not JSON */ }
  return `${response.status} ${response.statusText}`;
}

async function analyse(file) {
  if (!file || state.busy) return;
  if (state.maxUploadMb && file.size > state.maxUploadMb * 1024 * 1024) {
    setStatus(`${file.name} is ${(file.size / 1048576).toFixed(1)} MB: the limit is ${state.maxUploadMb} MB`, true);
    return;
  }
  state.busy = true;
  state.prediction = null;
  setStatus(`Analysing ${file.name}\u2026`);
  el("faces").replaceChildren();
  try {
    state.image = null;
    try {
      state.image = await loadImage(file);
    } catch (error) {
      el("result").hidden = true;  // the server says why (not an image, corrupted...)
    }
    if (state.image) { el("result").hidden = false; draw(); }
    const form = new FormData();
    form.append("file", file, file.name);
    const whole = el("whole-image").checked ? "true" : "false";
    const started = performance.now();
    const response = await fetch(`/api/predict?whole_image=${whole}`, { method: "POST", body: form });
    if (!response.ok) {
      setStatus(await errorMessage(response), true);
      return;
    }
    state.prediction = await response.json();
    const ms = Math.round(performance.now() - started);
    const n = state.prediction.faces.length;
    const what = state.prediction.whole_image ? "no face found: the whole image classified as one face"
      : n === 0 ? "no face found (tick the option above to classify the whole image)"
      : `${n} face${n === 1 ? "" : "s"}`;
    setStatus(`${file.name}: ${what} \u00b7 ${state.prediction.image.width}\u00d7${state.prediction.image.height} px \u00b7 ${ms} ms`);
    el("result").hidden = false;
    draw();
    showFaces();
  } catch (error) {
    setStatus(`request failed: ${error.message}`, true);
  } finally {
    state.busy = false;
    el("file").value = "";
  }
}

function setUp() {
  const drop = el("drop");
  el("file").addEventListener("change", (event) => analyse(event.target.files[0]));
  ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    analyse(event.dataTransfer.files[0]);
  });
  // A file dropped next to the zone should not make the browser navigate away from the page.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  loadHealth();
}

setUp();
