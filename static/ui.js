// wwm web UI: the live run page and the PNG export of SVG pictures. Plain JavaScript, no build step.
"use strict";

function watchRun(section) {
  const url = section.dataset.json;
  const $ = (id) => document.getElementById(id);
  const line = $("line"), W = 640, H = 240, P = 30;
  function draw(points) {
    if (!points.length) return;
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (x1 === x0) x1 = x0 + 1;
    if (y1 === y0) { y0 -= 1; y1 += 1; }
    line.setAttribute("points", points.map((p) =>
      (P + (p[0] - x0) * (W - 2 * P) / (x1 - x0)).toFixed(1) + "," +
      (H - P - (p[1] - y0) * (H - 2 * P) / (y1 - y0)).toFixed(1)).join(" "));
    $("ymax").textContent = String(+y1.toPrecision(4));
    $("ymin").textContent = String(+y0.toPrecision(4));
  }
  async function poll() {
    let run;
    try {
      const resp = await fetch(url, { headers: { Accept: "application/json" } });
      run = await resp.json();
      if (!resp.ok) throw new Error(run.error || resp.statusText);
    } catch (err) {
      $("error").textContent = "Cannot read the run's progress: " + err.message;
      $("error").hidden = false;
      setTimeout(poll, 2000);
      return;
    }
    $("status").textContent = run.status;
    $("step").textContent = run.step;
    $("score").textContent = (run.score || "").split("\n")[0];
    $("state").textContent = run.state;
    $("action").textContent = run.action;
    section.dataset.status = run.status;
    if (run.error) { $("error").textContent = run.error; $("error").hidden = false; }
    draw(run.points);
    if (run.status === "running") setTimeout(poll, 300);
    else $("stop").disabled = true;
  }
  poll();
}

// The node's network graph, redrawn from /ui/node.json every few seconds (the same layout as the server's).
function watchNetwork(section) {
  const svg = document.getElementById("graph");
  const NS = "http://www.w3.org/2000/svg";
  const colors = { member: "#27864a", following: "#1b6ca8", follower: "#999999" };
  const el = (name, attrs, parent) => {
    const e = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    parent.appendChild(e);
    return e;
  };
  async function poll() {
    try {
      const resp = await fetch(section.dataset.json, { headers: { Accept: "application/json" } });
      if (resp.ok) draw((await resp.json()).graph);
    } catch (err) { /* the node may be restarting: try again later */ }
    setTimeout(poll, 5000);
  }
  function draw(graph) {
    svg.querySelectorAll("line, g.gnode").forEach((e) => e.remove());
    for (const e of graph.edges) {
      el("line", { x1: e.x1, y1: e.y1, x2: e.x2, y2: e.y2, stroke: colors[e.kind] || "#999999", "stroke-width": 2 }, svg);
    }
    for (const n of graph.nodes) {
      const g = el("g", { class: "gnode", "data-kind": n.kind }, svg);
      if (n.kind === "group") el("rect", { x: n.x - 14, y: n.y - 14, width: 28, height: 28, fill: "#27864a" }, g);
      else el("circle", { cx: n.x, cy: n.y, r: n.kind === "self" ? 18 : 12, fill: n.kind === "self" ? "#c0392b" : "#1b6ca8" }, g);
      const t = el("text", { x: n.x, y: n.y + 32, "text-anchor": "middle", "font-size": 12, "font-family": "sans-serif", fill: "#222222" }, g);
      t.textContent = n.label;
    }
  }
  setTimeout(poll, 5000);
}

function exportPng(button) {
  const svg = document.getElementById(button.dataset.svg);
  const text = new XMLSerializer().serializeToString(svg);
  const img = new Image();
  img.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = svg.width.baseVal.value;
    canvas.height = svg.height.baseVal.value;
    canvas.getContext("2d").drawImage(img, 0, 0);
    const a = document.createElement("a");
    a.download = button.dataset.name;
    a.href = canvas.toDataURL("image/png");
    document.body.appendChild(a);
    a.click();
    a.remove();
  };
  img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
}

document.addEventListener("DOMContentLoaded", () => {
  const run = document.getElementById("run");
  if (run) watchRun(run);
  const network = document.getElementById("network");
  if (network) watchNetwork(network);
  const exp = document.getElementById("export-png");
  if (exp) exp.addEventListener("click", () => exportPng(exp));
});
