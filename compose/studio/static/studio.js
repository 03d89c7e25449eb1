// compose studio: the page. It keeps the layout being edited and asks the server (the Python API
// behind JSON routes) for everything else: the scene of a prompt, its planned boxes, which relations
// the edited boxes break, the pictures and what the checker reads back. Nothing is parsed, planned or
// checked here.
"use strict";

const SIDE = 512;            // the canvas, in CSS pixels
const PAINT_SIDE = 256;      // the painted sketch sent to the server, in pixels
const HANDLE = 10;           // the resize handle at a box's bottom-right corner
const MIN_SIDE = 0.03;       // the smallest box, as a fraction of the canvas
// Colours a region is drawn in: the colour its phrase names, else the next spare one.
const NAMED = {red: "#dc1e1e", orange: "#fa8214", yellow: "#e0b400", green: "#1ea03c", blue: "#1e46dc",
               purple: "#8c32be"};
const SPARE = ["#0097a7", "#c2185b", "#5d4037", "#455a64", "#7cb342", "#f4511e", "#3949ab", "#8e24aa"];
// Paint colours of the brush, one per phrase painted: far from white and from each other (the sketch
// reader's rules, compose/specs/layout-files.md section 2).
const PAINT = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#f032e6", "#9a6324"];

const state = {
  layout: {prompt: null, background: null, negative: null, canvas: null, scene: null, objects: []},
  relations: {relations: [], notes: []},
  limit: null,
  selected: -1,
  drag: null,          // {kind: "move" | "resize" | "add" | "paint", ...} while the mouse is down
  paintLegend: {},     // paint colour -> phrase
  results: [],
  requests: {scene: 0, check: 0},
  sceneInFlight: false, scenePending: false,
  typedAt: 0, shownMs: null,   // when the prompt last changed; how long until its boxes were drawn
};

const $ = (id) => document.getElementById(id);
const canvas = $("layout-canvas");
const context = canvas.getContext("2d");
const paintLayer = document.createElement("canvas");
paintLayer.width = paintLayer.height = PAINT_SIDE;
const paintContext = paintLayer.getContext("2d");

// ------------------------------------------------------------------------------------- requests

async function post(path, body) {
  const response = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify(body)});
  let data;
  try { data = await response.json(); } catch (error) { data = {error: `the server answered ${response.status}`}; }
  if (!response.ok) { throw new Error(data.error || `the server answered ${response.status}`); }
  return data;
}

function showError(id, message) {
  const element = $(id);
  element.textContent = message || "";
  element.hidden = !message;
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// ------------------------------------------------------------------------------ prompt -> scene

// Every keystroke asks at once (no debounce: the server answers in milliseconds); while one request
// is in flight the next waits, and only the latest text is sent after it.
async function askScene() {
  if (state.sceneInFlight) { state.scenePending = true; return; }
  const prompt = $("prompt").value;
  const ticket = ++state.requests.scene;
  const started = state.typedAt || performance.now();
  state.typedAt = 0;
  state.sceneInFlight = true;
  try {
    const answer = await post("/api/scene", {prompt, seed: Number($("plan-seed").value) || 0});
    if (ticket === state.requests.scene) {      // not overtaken by an opened file
      showError("parse-error", "");
      state.selected = -1;
      applyAnswer(answer);
      state.shownMs = performance.now() - started;
      $("timing").textContent = `parsed, planned and shown in ${Math.round(state.shownMs)} ms`;
    }
  } catch (error) {
    if (ticket === state.requests.scene) { showError("parse-error", error.message); }
  } finally {
    state.sceneInFlight = false;
    if (state.scenePending) { state.scenePending = false; askScene(); }
  }
}

function onPromptInput() {
  state.typedAt = performance.now();
  askScene();
}

function applyAnswer(answer) {
  state.layout = answer.layout;
  state.relations = answer.relations;
  state.limit = answer.limit;
  renderAll();
}

// --------------------------------------------------------------------------- boxes -> relations

async function askCheck() {
  const ticket = ++state.requests.check;
  try {
    const answer = await post("/api/check", {layout: state.layout});
    if (ticket !== state.requests.check || state.drag) { return; }
    showError("file-error", "");
    applyAnswer(answer);
  } catch (error) {
    if (ticket === state.requests.check) { showError("file-error", error.message); }
  }
}
const askCheckSoon = debounce(askCheck, 60);

// ------------------------------------------------------------------------------------ drawing

function regionColors(objects) {
  const owner = {};                                // named colour -> the phrase that has it
  const colors = objects.map((item) => {
    const word = item.phrase.toLowerCase().split(/\W+/).find(
      (w) => NAMED[w] && (!(NAMED[w] in owner) || owner[NAMED[w]] === item.phrase));
    if (word) { owner[NAMED[word]] = item.phrase; return NAMED[word]; }
    return null;
  });
  let spare = 0;
  return colors.map((color) => color || SPARE[spare++ % SPARE.length]);
}

function brokenRegions() {
  const broken = new Set();
  for (const relation of state.relations.relations || []) {
    for (const item of relation.broken) { item.forEach((index) => broken.add(index)); }
  }
  return broken;
}

function drawLayout() {
  context.clearRect(0, 0, SIDE, SIDE);
  context.fillStyle = "#fff";
  context.fillRect(0, 0, SIDE, SIDE);
  context.strokeStyle = "#eee";
  context.lineWidth = 1;
  for (let k = 1; k < 10; k++) {
    context.beginPath(); context.moveTo(k * SIDE / 10, 0); context.lineTo(k * SIDE / 10, SIDE); context.stroke();
    context.beginPath(); context.moveTo(0, k * SIDE / 10); context.lineTo(SIDE, k * SIDE / 10); context.stroke();
  }
  const objects = state.layout.objects;
  const colors = regionColors(objects);
  const broken = brokenRegions();
  objects.forEach((item, index) => drawRegion(item, index, colors[index], broken.has(index)));
  context.globalAlpha = 0.55;
  context.drawImage(paintLayer, 0, 0, SIDE, SIDE);
  context.globalAlpha = 1;
  if (state.drag && state.drag.kind === "add") {
    const [x0, y0, x1, y1] = orderedBox(state.drag.start, state.drag.now);
    context.setLineDash([5, 4]); context.strokeStyle = "#333";
    context.strokeRect(x0 * SIDE, y0 * SIDE, (x1 - x0) * SIDE, (y1 - y0) * SIDE);
    context.setLineDash([]);
  }
}

function drawRegion(item, index, color, broken) {
  const [x0, y0, x1, y1] = item.box.map((v) => v * SIDE);
  context.fillStyle = color + "30";
  if (item.polygons) {
    for (const polygon of item.polygons) {
      context.beginPath();
      polygon.forEach(([x, y], k) => (k ? context.lineTo(x * SIDE, y * SIDE) : context.moveTo(x * SIDE, y * SIDE)));
      context.closePath();
      context.fillStyle = color + "70";
      context.fill();
    }
  } else {
    context.fillRect(x0, y0, x1 - x0, y1 - y0);
  }
  const selected = index === state.selected;
  context.lineWidth = selected ? 3 : 2;
  context.strokeStyle = color;
  context.setLineDash(item.polygons ? [4, 3] : []);
  context.strokeRect(x0, y0, x1 - x0, y1 - y0);
  context.setLineDash([]);
  if (broken) {
    context.strokeStyle = "#d00000"; context.lineWidth = 2; context.setLineDash([7, 4]);
    context.strokeRect(x0 - 4, y0 - 4, x1 - x0 + 8, y1 - y0 + 8);
    context.setLineDash([]);
  }
  const label = `${index}: ${item.phrase}${broken ? "  ⚠" : ""}`;
  context.font = "12px system-ui, sans-serif";
  const width = context.measureText(label).width + 8;
  const top = y0 > 16 ? y0 - 16 : y0;
  context.fillStyle = broken ? "#d00000" : color;
  context.fillRect(x0, top, width, 16);
  context.fillStyle = "#fff";
  context.fillText(label, x0 + 4, top + 12);
  if (selected) {
    context.fillStyle = "#222";
    context.fillRect(x1 - HANDLE, y1 - HANDLE, HANDLE, HANDLE);
  }
}

// ------------------------------------------------------------------------------------ panels

function renderScene() {
  const scene = state.layout.scene;
  const panel = $("scene");
  panel.innerHTML = "";
  if (!scene) { panel.innerHTML = '<p class="quiet">Type a prompt.</p>'; return; }
  const list = document.createElement("ul");
  list.className = "panel";
  const names = {};
  for (const group of scene.objects) {
    names[group.id] = group.noun;
    const details = [`count ${group.count}`, `colour ${group.color || "any"}`, `size ${group.size || "any"}`,
                     `location ${group.location ? group.location.replace("_", " ") : "any"}`];
    if (group.modifiers.length) { details.push(`also ${group.modifiers.join(", ")}`); }
    addItem(list, `[${group.id}] ${group.noun} — “${group.phrase}”: ${details.join("; ")}`, "object");
  }
  for (const relation of scene.relations) {
    const other = relation.object2 !== null && relation.object2 !== undefined ? ` and [${relation.object2}]` : "";
    addItem(list, `relation: [${relation.subject}] ${names[relation.subject]} ${relation.predicate} ` +
                  `[${relation.object}] ${names[relation.object]}${other}`, "relation");
  }
  for (const negation of scene.negations) {
    addItem(list, `not: ${[negation.size, negation.color, negation.noun || "shape"].filter(Boolean).join(" ")}`,
            "negation");
  }
  if (scene.background) { addItem(list, `background: ${scene.background}`, "background"); }
  if (scene.style) { addItem(list, `style: ${scene.style}`, "style"); }
  if (!list.children.length) { addItem(list, "nothing to place", "quiet"); }
  panel.appendChild(list);
}

function addItem(list, text, className) {
  const item = document.createElement("li");
  item.textContent = text;
  if (className) { item.className = className; }
  list.appendChild(item);
  return item;
}

function renderRelations() {
  const list = $("relations");
  list.innerHTML = "";
  for (const relation of state.relations.relations || []) {
    const where = relation.broken.map((item) => item.join("–")).join(", ");
    const text = relation.holds ? `✓ ${relation.label}` : `✗ ${relation.label} — broken by regions ${where}`;
    addItem(list, text, relation.holds ? "holds" : "broken");
  }
  for (const note of state.relations.notes || []) { addItem(list, `note: ${note}`, "note"); }
  if (!list.children.length) { addItem(list, "no relations to keep", "quiet"); }
  showError("limit", state.limit);
}

function renderObjects() {
  const list = $("objects");
  list.innerHTML = "";
  state.layout.objects.forEach((item, index) => {
    const box = item.box.map((v) => v.toFixed(2)).join(", ");
    const row = addItem(list, `${item.phrase} [${box}]${item.polygons ? " painted" : ""}`,
                        index === state.selected ? "selected" : "");
    row.addEventListener("click", () => select(index));
  });
  const chosen = state.layout.objects[state.selected];
  $("phrase-input").disabled = $("relabel").disabled = $("delete").disabled = !chosen;
  if (chosen && document.activeElement !== $("phrase-input")) { $("phrase-input").value = chosen.phrase; }
  if (!chosen) { $("phrase-input").value = ""; }
}

function renderAll() {
  drawLayout();
  renderScene();
  renderRelations();
  renderObjects();
}

function select(index) {
  state.selected = index;
  renderAll();
}

// ------------------------------------------------------------------------------- canvas editing

function mode() { return document.querySelector('input[name="mode"]:checked').value; }

function pointer(event) {
  const rect = canvas.getBoundingClientRect();
  return [clamp((event.clientX - rect.left) / rect.width), clamp((event.clientY - rect.top) / rect.height)];
}

function clamp(value, low = 0, high = 1) { return Math.min(high, Math.max(low, value)); }

function orderedBox([ax, ay], [bx, by]) {
  return [Math.min(ax, bx), Math.min(ay, by), Math.max(ax, bx), Math.max(ay, by)];
}

function hitTest([x, y]) {
  const objects = state.layout.objects;
  for (let index = objects.length - 1; index >= 0; index--) {   // the front-most first
    const [x0, y0, x1, y1] = objects[index].box;
    const nearCorner = Math.abs(x - x1) * SIDE <= HANDLE && Math.abs(y - y1) * SIDE <= HANDLE;
    if (nearCorner) { return {index, kind: "resize"}; }
    if (x >= x0 && x <= x1 && y >= y0 && y <= y1) { return {index, kind: "move"}; }
  }
  return null;
}

function onDown(event) {
  const point = pointer(event);
  canvas.focus();
  if (mode() === "add") {
    state.drag = {kind: "add", start: point, now: point};
  } else if (mode() === "paint") {
    state.drag = {kind: "paint", last: point, color: paintColor($("new-phrase").value.trim())};
    paintStroke(point, point, state.drag.color);
  } else {
    const hit = hitTest(point);
    state.selected = hit ? hit.index : -1;
    if (hit) {
      const item = state.layout.objects[hit.index];
      state.drag = {kind: hit.kind, index: hit.index, start: point, box: item.box.slice(),
                    polygons: item.polygons ? JSON.parse(JSON.stringify(item.polygons)) : null};
    }
  }
  renderAll();
}

function onMove(event) {
  if (!state.drag) { return; }
  const point = pointer(event);
  const drag = state.drag;
  if (drag.kind === "add") { drag.now = point; }
  else if (drag.kind === "paint") { paintStroke(drag.last, point, drag.color); drag.last = point; }
  else if (drag.kind === "move") { moveBox(drag, point); }
  else if (drag.kind === "resize") { resizeBox(drag, point); }
  drawLayout();
}

function onUp() {
  const drag = state.drag;
  if (!drag) { return; }
  state.drag = null;
  if (drag.kind === "add") {
    const box = orderedBox(drag.start, drag.now);
    if (box[2] - box[0] >= MIN_SIDE && box[3] - box[1] >= MIN_SIDE) {
      addObject({phrase: $("new-phrase").value.trim() || "a thing", box, polygons: null, group: null, instance: 0});
    }
  }
  renderAll();
  if (drag.kind !== "paint") { askCheckSoon(); }
}

function moveBox(drag, [x, y]) {
  const [x0, y0, x1, y1] = drag.box;
  const dx = clamp(x - drag.start[0], -x0, 1 - x1);
  const dy = clamp(y - drag.start[1], -y0, 1 - y1);
  const item = state.layout.objects[drag.index];
  item.box = [x0 + dx, y0 + dy, x1 + dx, y1 + dy];
  if (drag.polygons) { item.polygons = drag.polygons.map((p) => p.map(([px, py]) => [px + dx, py + dy])); }
}

function resizeBox(drag, [x, y]) {
  const [x0, y0, x1, y1] = drag.box;
  const nx1 = Math.max(x, x0 + MIN_SIDE), ny1 = Math.max(y, y0 + MIN_SIDE);
  const item = state.layout.objects[drag.index];
  item.box = [x0, y0, nx1, ny1];
  if (drag.polygons) {
    const sx = (nx1 - x0) / (x1 - x0), sy = (ny1 - y0) / (y1 - y0);
    item.polygons = drag.polygons.map((p) => p.map(([px, py]) => [x0 + (px - x0) * sx, y0 + (py - y0) * sy]));
  }
}

function addObject(item) {
  state.layout.objects.push(item);
  state.selected = state.layout.objects.length - 1;
}

function deleteSelected() {
  if (state.selected < 0) { return; }
  state.layout.objects.splice(state.selected, 1);
  state.selected = -1;
  renderAll();
  askCheck();
}

function relabelSelected() {
  const item = state.layout.objects[state.selected];
  const phrase = $("phrase-input").value.trim();
  if (!item || !phrase) { return; }
  item.phrase = phrase;
  renderAll();
  askCheck();
}

// ----------------------------------------------------------------------------------- painting

function paintColor(phrase) {
  const found = Object.keys(state.paintLegend).find((color) => state.paintLegend[color] === phrase);
  if (found) { return found; }
  const color = PAINT.find((c) => !(c in state.paintLegend)) || PAINT[0];
  state.paintLegend[color] = phrase || "a thing";
  return color;
}

function paintStroke([ax, ay], [bx, by], color) {
  const scale = PAINT_SIDE / SIDE;
  paintContext.strokeStyle = paintContext.fillStyle = color;
  paintContext.lineWidth = Number($("brush").value) * scale;
  paintContext.lineCap = paintContext.lineJoin = "round";
  paintContext.beginPath();
  paintContext.moveTo(ax * PAINT_SIDE, ay * PAINT_SIDE);
  paintContext.lineTo(bx * PAINT_SIDE + 0.01, by * PAINT_SIDE);
  paintContext.stroke();
}

function clearPaint() {
  paintContext.clearRect(0, 0, PAINT_SIDE, PAINT_SIDE);
  state.paintLegend = {};
  drawLayout();
}

async function applyPaint() {
  if (!Object.keys(state.paintLegend).length) { showError("file-error", "paint something first (paint mode)"); return; }
  const sheet = document.createElement("canvas");
  sheet.width = sheet.height = PAINT_SIDE;
  const sheetContext = sheet.getContext("2d");
  sheetContext.fillStyle = "#fff";
  sheetContext.fillRect(0, 0, PAINT_SIDE, PAINT_SIDE);
  sheetContext.drawImage(paintLayer, 0, 0);
  const image = sheet.toDataURL("image/png").split(",")[1];
  try {
    const answer = await post("/api/sketch", {image, legend: state.paintLegend, prompt: state.layout.prompt});
    answer.objects.forEach((item) => addObject(item));
    showError("file-error", "");
    clearPaint();
    renderAll();
    askCheck();
  } catch (error) {
    showError("file-error", error.message);
  }
}

// ------------------------------------------------------------------------------- files

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",")[1] || "");
    reader.onerror = () => reject(new Error(`${file.name}: cannot be read`));
    reader.readAsDataURL(file);
  });
}

async function openFiles(event) {
  const files = Array.from(event.target.files || []);
  if (!files.length) { return; }
  try {
    const payload = await Promise.all(files.map(async (file) => ({name: file.name, data: await readBase64(file)})));
    opened(await post("/api/open", {files: payload}));
  } catch (error) {
    showError("file-error", error.message);
  } finally {
    event.target.value = "";
  }
}

async function openExample() {
  const name = $("examples").value;
  if (!name) { return; }
  try { opened(await post("/api/example", {name})); } catch (error) { showError("file-error", error.message); }
  $("examples").value = "";
}

function opened(answer) {
  showError("file-error", "");
  state.selected = -1;
  state.requests.scene++;                        // a pending prompt answer must not replace the file
  $("prompt").value = answer.layout.prompt || "";
  applyAnswer(answer);
}

async function save(syntax) {
  try {
    const answer = await post("/api/save", {layout: state.layout, syntax});
    download(new Blob([answer.text], {type: syntax === "json" ? "application/json" : "application/yaml"}),
             answer.filename);
    showError("file-error", "");
  } catch (error) {
    showError("file-error", error.message);
  }
}

function download(blob, filename) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
}

// ----------------------------------------------------------------------------------- generate

async function generate() {
  const method = $("method").value;
  const methods = [method];
  if ($("with-plain").checked && method !== "plain") { methods.push("plain"); }
  const request = {
    layout: state.layout.objects.length ? state.layout : null,
    prompt: state.layout.prompt || $("prompt").value || null,
    methods, seed: Number($("seed").value) || 0, steps: Number($("steps").value) || null,
    attention: $("with-attention").checked,
  };
  $("generate").disabled = true;
  $("status").textContent = "drawing…";
  const started = performance.now();
  try {
    const answer = await post("/api/generate", request);
    showError("generate-error", "");
    state.results = answer.pictures;
    renderResults();
    $("status").textContent = `drawn in ${((performance.now() - started) / 1000).toFixed(2)} s`;
  } catch (error) {
    showError("generate-error", error.message);
    $("status").textContent = "";
  } finally {
    $("generate").disabled = false;
  }
}

function renderResults() {
  const box = $("results");
  box.innerHTML = "";
  for (const picture of state.results) {
    const figure = document.createElement("figure");
    figure.className = "result";
    figure.dataset.method = picture.method;
    const record = picture.record;
    const caption = document.createElement("figcaption");
    caption.textContent = `${picture.method} — seed ${record.seed}, ${record.steps} steps`;
    const image = document.createElement("img");
    image.className = "picture";
    image.alt = `${picture.method} picture`;
    image.src = `data:image/png;base64,${picture.image}`;
    figure.append(caption, image, checkView(picture.check), mapsView(picture.attention),
                  downloadsView(picture));
    box.appendChild(figure);
  }
}

function checkView(check) {
  const part = document.createElement("div");
  part.className = "check";
  if (!check.available) { part.innerHTML = ""; addLine(part, `not checked: ${check.reason}`, "quiet"); return part; }
  addLine(part, check.passed ? "checker: everything is there as asked" : "checker: not as asked",
          `verdict ${check.passed ? "passed" : "failed"}`);
  const list = document.createElement("ul");
  list.className = "checked";
  for (const item of check.objects) {
    addItem(list, `${item.right ? "✓" : "✗"} ${item.index}: ${item.phrase}`, item.right ? "right" : "wrong");
  }
  for (const extra of check.extras) { addItem(list, `✗ ${extra.reason}`, "wrong"); }
  part.appendChild(list);
  const read = check.detections.map((d) => `${d.color} ${d.shape}`).join(", ") || "nothing";
  addLine(part, `read back: ${read}`, "quiet detections");
  for (const detail of check.details) { addLine(part, detail, "quiet"); }
  return part;
}

function addLine(parent, text, className) {
  const line = document.createElement("div");
  line.textContent = text;
  line.className = className;
  parent.appendChild(line);
}

function mapsView(maps) {
  const part = document.createElement("div");
  part.className = "maps";
  for (const map of maps || []) {
    const figure = document.createElement("figure");
    const image = document.createElement("img");
    image.src = `data:image/png;base64,${map.image}`;
    image.alt = `attention of ${map.phrase}`;
    const share = map.in_region === null ? "" : ` (${Math.round(100 * map.in_region)}% in region)`;
    figure.append(image, document.createTextNode(`${map.phrase}${share}`));
    part.appendChild(figure);
  }
  return part;
}

function downloadsView(picture) {
  const part = document.createElement("div");
  part.className = "downloads";
  const stem = `${picture.method}-seed${picture.record.seed}`;
  const png = document.createElement("a");
  png.href = `data:image/png;base64,${picture.image}`;
  png.download = `${stem}.png`;
  png.textContent = "picture .png";
  png.className = "download-png";
  const json = document.createElement("a");
  json.href = "#";
  json.textContent = "record .json";
  json.className = "download-json";
  json.addEventListener("click", (event) => {
    event.preventDefault();
    download(new Blob([JSON.stringify(picture.record, null, 2) + "\n"], {type: "application/json"}), `${stem}.json`);
  });
  part.append(png, json);
  return part;
}

// ---------------------------------------------------------------------------------- start

async function start() {
  const info = await (await fetch("/api/info")).json();
  $("model-name").textContent = `model: ${info.model}`;
  for (const method of info.methods) { $("method").add(new Option(method, method)); }
  for (const name of info.examples) { $("examples").add(new Option(name, name)); }
  $("steps").max = info.limits.steps;
  $("prompt").addEventListener("input", onPromptInput);
  $("plan-seed").addEventListener("change", askScene);
  $("replan").addEventListener("click", () => { $("plan-seed").value = (Number($("plan-seed").value) || 0) + 1; askScene(); });
  canvas.addEventListener("mousedown", onDown);
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  canvas.addEventListener("keydown", (event) => { if (event.key === "Delete" || event.key === "Backspace") { deleteSelected(); } });
  $("delete").addEventListener("click", deleteSelected);
  $("relabel").addEventListener("click", relabelSelected);
  $("phrase-input").addEventListener("keydown", (event) => { if (event.key === "Enter") { relabelSelected(); } });
  $("apply-paint").addEventListener("click", applyPaint);
  $("clear-paint").addEventListener("click", clearPaint);
  $("open-files").addEventListener("change", openFiles);
  $("examples").addEventListener("change", openExample);
  $("save-json").addEventListener("click", () => save("json"));
  $("save-yaml").addEventListener("click", () => save("yaml"));
  $("generate").addEventListener("click", generate);
  renderAll();
  document.body.dataset.ready = "true";
}

window.studio = {state, askScene, askCheck};   // for a person's console and the browser tests
start();
