// The page at GET /: pick a served model, type text, see the answer. Talks only to this
// server's JSON API (/models, /tag, /classify, /generate with "stream": true), so what it
// shows is exactly what a client of the API gets. No libraries, nothing from elsewhere.
"use strict";

const ENDPOINT = { tagger: "/tag", classifier: "/classify", language_model: "/generate" };
const ACTION = { tagger: "Tag", classifier: "Classify", language_model: "Generate" };
const KIND_NAME = { tagger: "tagger", classifier: "classifier", language_model: "language model" };
const SAMPLE = {
  tagger: "Angela Merkel visited Paris on Tuesday with the head of the United Nations.",
  classifier: "a gorgeous, witty, seductive movie.",
  language_model: "ROMEO:",
};
const PALETTE = ["#ffd966", "#9fc5e8", "#b6d7a8", "#f4cccc", "#d9d2e9", "#fce5cd", "#d0e0e3", "#ead1dc"];

const $ = (id) => document.getElementById(id);
let models = {};
let limits = {};

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function colourOf(model, label) {
  const labels = model.labels || [];
  const index = labels.indexOf(label);
  return PALETTE[(index < 0 ? label.length : index) % PALETTE.length];
}

async function loadModels() {
  try {
    const response = await fetch("/models");
    const body = await response.json();
    limits = body.limits;
    const select = $("model");
    for (const model of body.models) {
      models[model.name] = model;
      const option = element("option", "", `${model.name} (${KIND_NAME[model.kind]})`);
      option.value = model.name;
      select.append(option);
    }
    $("max-length").max = limits.max_length;
    $("max-length").value = Math.min(200, limits.max_length);
    $("status").textContent = `${body.models.length} model${body.models.length === 1 ? "" : "s"} served`;
    select.addEventListener("change", modelChanged);
    modelChanged();
    $("run").disabled = false;
  } catch (error) {
    $("status").textContent = `cannot reach the server: ${error}`;
  }
}

function modelChanged() {
  const model = models[$("model").value];
  $("kind").textContent = KIND_NAME[model.kind];
  $("run").textContent = ACTION[model.kind];
  $("generate-options").hidden = model.kind !== "language_model";
  $("text").placeholder = SAMPLE[model.kind];
}

function card(model, title) {
  const box = element("article", `card ${model.kind}`);
  const head = element("h2", "", title);
  head.append(element("span", "muted", ` ${model.name}`));
  box.append(head);
  $("results").prepend(box);
  return box;
}

function showError(box, message) {
  box.append(element("p", "error", message));
}

async function postJSON(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const contentType = response.headers.get("content-type") || "";
  if (!response.ok) {
    const detail = contentType.includes("json") ? (await response.json()).detail : await response.text();
    throw new Error(`${response.status}: ${detail}`);
  }
  return response;
}

// -- tagger: entities highlighted in the text, or a tag under each token ----------------------
function showTagged(box, model, document) {
  const view = element("p", "tagged");
  if (model.spans) {
    let position = 0;
    for (const span of document.spans) {
      view.append(document.text.slice(position, span.start_char));
      const mark = element("mark", "span");
      mark.dataset.label = span.label;
      mark.title = `${span.label} (p = ${span.score.toFixed(3)})`;
      mark.style.background = colourOf(model, span.label);
      mark.append(element("span", "span-text", span.text), element("span", "span-label", span.label));
      view.append(mark);
      position = span.end_char;
    }
    view.append(document.text.slice(position));
  } else {
    let position = 0;
    for (const token of document.tokens) {
      view.append(document.text.slice(position, token.start_char));
      const item = element("span", "token");
      item.title = `p = ${token.score.toFixed(3)}`;
      item.append(element("span", "token-text", token.text), element("span", "token-tag", token.tag));
      view.append(item);
      position = token.end_char;
    }
    view.append(document.text.slice(position));
  }
  box.append(view);
  if (model.spans && document.spans.length === 0) box.append(element("p", "muted", "no spans found"));
}

// -- classifier: the label, and a bar per class ------------------------------------------------
function showClassification(box, model, result) {
  const top = element("p", "top-label", result.label === null ? result.labels.join(", ") || "(no label)" : result.label);
  box.append(top);
  const bars = element("div", "bars");
  const entries = Object.entries(result.probs).sort((a, b) => b[1] - a[1]);
  for (const [label, p] of entries) {
    const row = element("div", "bar-row");
    row.dataset.label = label;
    const bar = element("span", "bar");
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    bar.style.background = colourOf(model, label);
    const track = element("span", "bar-track");
    track.append(bar);
    row.append(element("span", "label-name", label), track, element("span", "prob", `${(100 * p).toFixed(1)} %`));
    bars.append(row);
  }
  box.append(bars);
}

// -- language model: the text as it streams ------------------------------------------------------
async function streamGeneration(box, model, text) {
  const output = element("pre", "generated");
  output.append(element("span", "seed", text));
  const continuation = element("span", "continuation");
  output.append(continuation);
  const state = element("p", "muted stream-state", "generating…");
  box.append(output, state);
  const seed = $("seed").value;
  const body = {
    model: model.name, text, stream: true,
    max_length: Number($("max-length").value), temperature: Number($("temperature").value),
  };
  if (seed !== "") body.seed = Number(seed);
  const response = await postJSON("/generate", body);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event.name === "error") throw new Error(`${event.data.status}: ${event.data.detail}`);
      if (event.name === "done") {
        const finish = event.data.finish ? `, ended by ${event.data.finish}` : "";
        const tokens = event.data.tokens !== undefined ? `${event.data.tokens} tokens` : "done";
        state.textContent = `${tokens}${finish}`;
        state.classList.add("done");
      } else {
        continuation.textContent += event.data.text;
      }
    }
  }
}

function parseEvent(block) {
  const event = { name: "message", data: null };
  const lines = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event.name = line.slice(6).trim();
    else if (line.startsWith("data:")) lines.push(line.slice(5).trimStart());
  }
  event.data = JSON.parse(lines.join("\n"));
  return event;
}

async function run(submitted) {
  submitted.preventDefault();
  const model = models[$("model").value];
  const text = $("text").value || SAMPLE[model.kind];
  const box = card(model, ACTION[model.kind]);
  $("run").disabled = true;
  $("busy").hidden = false;
  try {
    if (model.kind === "language_model") {
      await streamGeneration(box, model, text);
    } else {
      const response = await postJSON(ENDPOINT[model.kind], { model: model.name, text });
      const result = await response.json();
      if (model.kind === "tagger") showTagged(box, model, result);
      else showClassification(box, model, result);
    }
  } catch (error) {
    showError(box, error.message);
  } finally {
    $("run").disabled = false;
    $("busy").hidden = true;
  }
}

$("form").addEventListener("submit", run);
loadModels();
