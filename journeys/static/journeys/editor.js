/* The visual journey editor (journeys/editor/). One namespace: window.JourneyEditor.
 *
 * The canvas (Drawflow, vendored under static/vendor/) is only a view of the server's draft graph:
 * every change is a POST to an endpoint that calls a journeys service and answers with the whole
 * new graph, which is drawn again. Undo/redo restore earlier snapshots of that graph on the server.
 * Data comes from the json_script "journey-editor-data"; DOM hooks are data-step-key / data-branch.
 */
(function () {
  "use strict";

  var E = (window.JourneyEditor = {});
  var state = { graph: null, undo: [], redo: [], busy: false, counts: null, suppress: 0, focusKey: null,
    queue: Promise.resolve(), seq: 0 };
  var data, urls, df, root, canvas;

  function $(sel, el) { return (el || document).querySelector(sel); }
  function $$(sel, el) { return Array.prototype.slice.call((el || document).querySelectorAll(sel)); }
  function url(name, key, what) {
    return urls[name].replace("KEY", encodeURIComponent(key || "")).replace("WHAT", encodeURIComponent(what || ""));
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|; )csrftoken=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : JSON.parse(root.getAttribute("hx-headers"))["X-CSRFToken"];
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text;
    return node;
  }
  /* HTML-escape for text AND attribute values (quotes too: names end up inside title="..."). */
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(text) { return (text == null ? "" : String(text)).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }

  function flash(message, kind, reload) {
    var box = $("[data-flash]", root);
    box.hidden = false;
    box.className = "je-flash je-flash-" + (kind || "info");
    box.innerHTML = esc(message) + (reload ? ' <a href="" data-action="reload">Reload the editor</a>' : "");
    clearTimeout(E._flashTimer);
    if (!reload) E._flashTimer = setTimeout(function () { box.hidden = true; }, 5000);
  }

  function snapshot(graph) {
    return {
      steps: graph.steps.map(function (s) {
        return { key: s.key, kind: s.kind, name: s.name, config: s.config, x: s.x, y: s.y };
      }),
      edges: graph.edges.map(function (e) { return { from: e.from, branch: e.branch, to: e.to }; }),
    };
  }

  /* --- talking to the server --------------------------------------------------------------- */

  /* Changes go one after the other, each with the draft tag the previous answer brought, so two quick
   * edits of one marketer are never refused as a conflict with themselves. */
  function post(endpoint, fields, opts) {
    if (!data.editable) return Promise.resolve(null);
    var run = state.queue.then(function () { return send(endpoint, fields, opts || {}); });
    state.queue = run.catch(function () {});
    return run;
  }

  function send(endpoint, fields, opts) {
    var body = new URLSearchParams(fields || {});
    var before = state.graph;
    state.seq++;
    return fetch(endpoint, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "X-Draft-Etag": state.graph.etag, "X-Requested-With": "fetch" },
    }).then(function (response) {
      return response.json().catch(function () { return { error: "The server answered " + response.status + "." }; })
        .then(function (payload) {
          if (payload.graph) {
            if (opts.record !== false) { state.undo.push(snapshot(before)); state.redo = []; }
            if (opts.onDone) opts.onDone(before);
            apply(payload.graph);
            return payload.graph;
          }
          flash(payload.error || "Not saved.", payload.conflict ? "conflict" : "error", payload.conflict);
          draw(); // drop what the canvas shows but the server refused
          return null;
        });
    }).catch(function () { flash("The server cannot be reached. Your change was not saved.", "error"); draw(); });
  }

  function refresh() {
    var seq = state.seq;
    return fetch(urls.graph, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (p) {
      if (seq === state.seq) apply(p.graph); // else an edit answered meanwhile with a newer graph
    });
  }

  function apply(graph) {
    state.graph = graph;
    draw();
    toolbar();
  }

  /* --- drawing ----------------------------------------------------------------------------- */

  function stepByKey(key) { return state.graph.steps.find(function (s) { return s.key === key; }); }
  function stepById(id) { return state.graph.steps.find(function (s) { return String(s.id) === String(id); }); }

  function nodeHtml(step) {
    var errors = step.problems.filter(function (p) { return p.level === "error"; }).length;
    var warnings = step.problems.length - errors;
    var flag = errors ? '<span class="je-flag je-flag-error" title="' + esc(step.problems.map(function (p) { return p.message; }).join("\n")) + '">' + errors + " to fix</span>"
      : warnings ? '<span class="je-flag je-flag-warning" title="' + esc(step.problems.map(function (p) { return p.message; }).join("\n")) + '">' + warnings + " warning" + (warnings > 1 ? "s" : "") + "</span>" : "";
    return '<div class="je-node je-group-' + step.group + '">' +
      '<div class="je-node-head"><span class="je-node-kind">' + esc(step.label) + "</span>" + flag + "</div>" +
      '<div class="je-node-name">' + esc(step.name) + "</div>" +
      '<div class="je-node-summary">' + esc(step.summary) + "</div>" +
      (errors ? '<div class="je-node-problem je-error" data-problem>' + esc(step.problems[0].message) + "</div>" : "") +
      '<div class="je-node-counts" data-counts-for="' + esc(step.key) + '"></div></div>';
  }

  function draw() {
    var graph = state.graph;
    var ids = {};
    graph.steps.forEach(function (s) { ids[s.key] = String(s.id); });
    var nodes = {};
    graph.steps.forEach(function (s) {
      var outputs = {};
      s.branches.forEach(function (b, i) { outputs["output_" + (i + 1)] = { connections: [] }; });
      nodes[s.id] = {
        id: s.id, name: s.kind, data: { key: s.key }, class: "je-k-" + s.group + (s.problems.some(function (p) { return p.level === "error"; }) ? " je-invalid" : ""),
        html: nodeHtml(s), typenode: false,
        inputs: s.inputs ? { input_1: { connections: [] } } : {}, outputs: outputs, pos_x: s.x, pos_y: s.y,
      };
    });
    graph.edges.forEach(function (e) {
      var from = stepByKey(e.from), to = stepByKey(e.to);
      if (!from || !to || !to.inputs) return;
      var port = "output_" + (from.branches.indexOf(e.branch) + 1);
      if (!nodes[from.id].outputs[port]) return;
      nodes[from.id].outputs[port].connections.push({ node: ids[e.to], output: "input_1" });
      nodes[to.id].inputs.input_1.connections.push({ node: ids[e.from], input: port });
    });
    state.suppress++;
    try { df.import({ drawflow: { Home: { data: nodes } } }); } finally { state.suppress--; }
    decorate();
    showCounts();
  }

  function decorate() {
    var graph = state.graph;
    graph.steps.forEach(function (s) {
      var node = $("#node-" + s.id, canvas);
      if (!node) return;
      node.setAttribute("data-step-key", s.key);
      node.setAttribute("data-kind", s.kind);
      node.setAttribute("tabindex", "0");
      node.setAttribute("role", "button");
      node.setAttribute("aria-label", s.label + ": " + s.name + ". " + s.summary);
      s.branches.forEach(function (b, i) {
        var port = $(".outputs .output_" + (i + 1), node);
        if (!port) return;
        var connected = graph.edges.some(function (e) { return e.from === s.key && e.branch === b; });
        port.setAttribute("data-branch", b);
        port.setAttribute("title", connected ? b : b + ": leads nowhere yet (drag from here to a step)");
        port.classList.toggle("je-loose", !connected);
      });
    });
    $$("svg.connection", canvas).forEach(function (svg) {
      var from = null, to = null, port = null;
      svg.classList.forEach(function (c) {
        if (c.indexOf("node_out_node-") === 0) from = stepById(c.slice(14));
        if (c.indexOf("node_in_node-") === 0) to = stepById(c.slice(13));
        if (/^output_\d+$/.test(c)) port = parseInt(c.slice(7), 10);
      });
      if (!from || !to || !port) return;
      var branch = from.branches[port - 1];
      svg.setAttribute("data-branch", branch);
      svg.setAttribute("data-from", from.key);
      svg.setAttribute("data-to", to.key);
      var label = document.createElementNS("http://www.w3.org/2000/svg", "text");
      label.setAttribute("class", "je-edge-label");
      label.setAttribute("data-edge-label", branch);
      label.textContent = branch;
      svg.appendChild(label);
    });
    placeLabels();
    if (state.focusKey) {
      var focus = $('[data-step-key="' + state.focusKey + '"]', canvas);
      if (focus) focus.focus();
    }
    var issues = $("[data-issues]", root);
    var general = graph.problems.filter(function (p) { return !p.step_key; });
    issues.innerHTML = general.map(function (p) { return '<div class="je-' + p.level + '">' + esc(p.message) + "</div>"; }).join("");
  }

  function placeLabels() {
    $$("svg.connection", canvas).forEach(function (svg) {
      var path = $("path.main-path", svg), label = $("text.je-edge-label", svg);
      if (!path || !label) return;
      try {
        var len = path.getTotalLength(), point = path.getPointAtLength(len / 2);
        label.setAttribute("x", point.x);
        label.setAttribute("y", point.y - 9); // above the line, clear of the port circles at its ends
      } catch (err) { /* not laid out yet */ }
    });
  }

  /* Zoom out (never in) so the whole graph fits the canvas; scales from the top-left corner. */
  function fit() {
    if (!state.graph.steps.length) return;
    var maxX = 0, maxY = 0;
    state.graph.steps.forEach(function (s) {
      var node = $("#node-" + s.id, canvas);
      maxX = Math.max(maxX, s.x + (node ? node.offsetWidth : 220) + 95); // room for a loose end's tag
      maxY = Math.max(maxY, s.y + (node ? node.offsetHeight : 120) + 20);
    });
    var pad = 12;
    var zoom = Math.max(0.5, Math.min(1, (canvas.clientWidth - pad) / maxX, (canvas.clientHeight - pad) / maxY));
    df.zoom = df.zoom_last_value = zoom;
    df.canvas_x = pad;
    df.canvas_y = pad;
    df.precanvas.style.transform = "translate(" + pad + "px, " + pad + "px) scale(" + zoom + ")";
    placeLabels();
  }
  E.fit = fit;

  function toolbar() {
    var j = state.graph.journey;
    $("[data-status]", root).textContent = j.status_label;
    $("[data-status]", root).setAttribute("data-state", j.status);
    $("[data-version]", root).textContent = j.version ? "running version " + j.version + (j.unpublished ? " · the draft has unpublished changes" : "") : "not published yet";
    var errors = state.graph.problems.filter(function (p) { return p.level === "error"; }).length;
    var warnings = state.graph.problems.length - errors;
    var count = $("[data-problems-count]", root);
    count.textContent = errors ? errors + " to fix" + (warnings ? ", " + warnings + " warning" + (warnings > 1 ? "s" : "") : "")
      : warnings ? warnings + " warning" + (warnings > 1 ? "s" : "") : "Ready to publish";
    count.className = "je-problems " + (errors ? "je-error" : warnings ? "je-warning" : "je-ok");
    var enable = { pause: j.status === "active", resume: j.status === "paused", archive: j.status !== "archived",
      "run-entry": j.status === "active", publish: j.status !== "archived" };
    Object.keys(enable).forEach(function (a) { var b = $('[data-action="' + a + '"]', root); if (b) b.disabled = !enable[a]; });
    ["pause", "resume"].forEach(function (a) { var b = $('[data-action="' + a + '"]', root); if (b) b.hidden = !enable[a]; });
    var undo = $('[data-action="undo"]', root), redo = $('[data-action="redo"]', root);
    if (undo) undo.disabled = !state.undo.length;
    if (redo) redo.disabled = !state.redo.length;
  }

  /* --- live counts ------------------------------------------------------------------------- */

  function loadCounts() {
    if (document.hidden || !state.graph.journey.version) return;
    fetch(urls.counts, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (c) {
      state.counts = c;
      showCounts();
    }).catch(function () {});
  }

  function showCounts() {
    var c = state.counts;
    if (!c) return;
    $$("[data-counts-for]", canvas).forEach(function (box) {
      var key = box.getAttribute("data-counts-for"), n = c.nodes[key];
      if (!n) { box.innerHTML = ""; return; }
      var parts = ['<button type="button" class="je-count" data-count="waiting" data-key="' + esc(key) + '">' + n.waiting + " waiting</button>",
        '<button type="button" class="je-count" data-count="passed" data-key="' + esc(key) + '">' + n.passed + " passed</button>"];
      if (n.sent || n.opened || n.clicked) parts.push('<span class="je-msg-counts">' + n.sent + " sent · " + n.opened + " opened · " + n.clicked + " clicked</span>");
      box.innerHTML = parts.join(" ");
    });
    $$("svg.connection", canvas).forEach(function (svg) {
      var label = $("text.je-edge-label", svg);
      if (!label) return;
      var n = c.edges[svg.getAttribute("data-from") + "|" + svg.getAttribute("data-branch")];
      label.textContent = svg.getAttribute("data-branch") + (n ? " · " + n : "");
      label.setAttribute("data-edge-count", n || 0);
    });
  }

  function openCount(key, what) {
    htmx.ajax("GET", url("count_contacts", key, what), { target: "#je-dialog-body" });
  }

  /* --- actions ----------------------------------------------------------------------------- */

  function openPanel(key) {
    state.focusKey = key;
    $$(".je-selected", canvas).forEach(function (n) { n.classList.remove("je-selected"); });
    var node = $('[data-step-key="' + key + '"]', canvas);
    if (node) node.classList.add("je-selected");
    htmx.ajax("GET", url("step", key), { target: "#je-panel" });
  }

  function removeStep(key) {
    var step = stepByKey(key);
    if (!step) return;
    post(url("remove", key)).then(function (g) {
      if (g) { flash("Deleted “" + step.name + "”. Undo with Ctrl+Z.", "info"); closePanelIf(key); }
    });
  }

  function closePanelIf(key) {
    var panel = $("[data-panel-step]", root);
    if (panel && (!key || panel.getAttribute("data-panel-step") === key)) {
      $("#je-panel").innerHTML = '<p class="je-hint">Click a step to set it up.</p>';
    }
  }

  function moveStep(key, x, y) { return post(url("move", key), { x: Math.round(x), y: Math.round(y) }); }

  function addStep(kind, x, y) {
    return post(urls.add, { kind: kind, x: Math.round(x), y: Math.round(y) }).then(function (g) {
      if (!g) return;
      var added = g.steps.reduce(function (a, s) { return !a || s.id > a.id ? s : a; }, null);
      if (added) openPanel(added.key);
    });
  }

  function history(from, to) {
    if (!from.length || state.busy) return;
    var target = from.pop();
    var current = snapshot(state.graph);
    state.busy = true;
    post(urls.restore, { snapshot: JSON.stringify(target) }, { record: false }).then(function (g) {
      state.busy = false;
      if (g) { to.push(current); closePanelIf(); } else { from.push(target); }
      toolbar();
    });
  }
  E.undo = function () { history(state.undo, state.redo); };
  E.redo = function () { history(state.redo, state.undo); };

  function freeSpot() {
    var x = 40, y = 40;
    state.graph.steps.forEach(function (s) { if (s.x + 300 > x) { x = s.x + 300; y = s.y; } });
    return [Math.min(x, 2400), y];
  }

  function canvasPoint(clientX, clientY) {
    var rect = df.precanvas.getBoundingClientRect();
    return [(clientX - rect.x) / df.zoom, (clientY - rect.y) / df.zoom];
  }

  /* --- wiring ------------------------------------------------------------------------------ */

  function wireCanvas() {
    df = new Drawflow(canvas);
    df.reroute = false;
    df.force_first_input = true;
    df.editor_mode = data.editable ? "edit" : "view";
    df.start();
    // Removing goes to the server first; the canvas redraws from its answer.
    df.removeNodeId = function (id) { var s = stepById(String(id).replace("node-", "")); if (s) removeStep(s.key); };
    df.removeConnection = function () {
      var path = df.connection_selected;
      var svg = path && path.parentElement;
      if (!svg || !svg.getAttribute("data-from")) return;
      post(urls.disconnect, { from: svg.getAttribute("data-from"), branch: svg.getAttribute("data-branch") });
      df.connection_selected = null;
    };
    df.on("connectionCreated", function (c) {
      if (state.suppress) return;
      var from = stepById(c.output_id), to = stepById(c.input_id);
      var branch = from && from.branches[parseInt(c.output_class.replace("output_", ""), 10) - 1];
      if (!from || !to || !branch) { draw(); return; }
      post(urls.connect, { from: from.key, branch: branch, to: to.key });
    });
    df.on("nodeMoved", function (id) {
      if (state.suppress) return;
      var s = stepById(id), node = df.drawflow.drawflow.Home.data[id];
      if (s && node && (Math.round(node.pos_x) !== s.x || Math.round(node.pos_y) !== s.y)) moveStep(s.key, node.pos_x, node.pos_y);
    });
    var frame = null;
    df.on("mouseMove", function () {
      if (frame) return;
      frame = requestAnimationFrame(function () { frame = null; placeLabels(); });
    });
    canvas.addEventListener("click", function (e) {
      var count = e.target.closest("[data-count]");
      if (count) { e.stopPropagation(); openCount(count.getAttribute("data-key"), count.getAttribute("data-count")); return; }
      var label = e.target.closest("text.je-edge-label");
      if (label) {
        var svg = label.parentNode;
        if (state.counts) openCount(svg.getAttribute("data-from"), "branch:" + svg.getAttribute("data-branch"));
        return;
      }
      var node = e.target.closest("[data-step-key]");
      if (node && !e.target.closest(".output, .input")) openPanel(node.getAttribute("data-step-key"));
    });
    canvas.addEventListener("keydown", function (e) {
      var node = e.target.closest && e.target.closest("[data-step-key]");
      if (!node || e.target !== node || df.connection_selected) return; // a selected line: Drawflow removes it
      var key = node.getAttribute("data-step-key"), s = stepByKey(key);
      var moves = { ArrowLeft: [-20, 0], ArrowRight: [20, 0], ArrowUp: [0, -20], ArrowDown: [0, 20] };
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openPanel(key); }
      else if ((e.key === "Delete" || e.key === "Backspace") && data.editable) { e.preventDefault(); e.stopPropagation(); removeStep(key); }
      else if (moves[e.key] && data.editable) {
        e.preventDefault(); e.stopPropagation();
        state.focusKey = key;
        // Move on screen at once (a key held down sends several moves; each starts where the last ended).
        var held = df.drawflow.drawflow.Home.data[s.id];
        held.pos_x = Math.max(held.pos_x + moves[e.key][0], 0);
        held.pos_y = Math.max(held.pos_y + moves[e.key][1], 0);
        node.style.left = held.pos_x + "px";
        node.style.top = held.pos_y + "px";
        df.updateConnectionNodes("node-" + s.id);
        placeLabels();
        moveStep(key, held.pos_x, held.pos_y);
      }
    });
    canvas.addEventListener("mousedown", function (e) {
      // A line or the background was picked: the step that had the keyboard focus no longer does.
      if (!e.target.closest("[data-step-key]") && document.activeElement && document.activeElement.blur) document.activeElement.blur();
    });
    canvas.addEventListener("dragover", function (e) { if (data.editable) e.preventDefault(); });
    canvas.addEventListener("drop", function (e) {
      e.preventDefault();
      var kind = e.dataTransfer.getData("text/plain");
      if (!kind || !data.editable) return;
      var p = canvasPoint(e.clientX, e.clientY);
      addStep(kind, Math.max(p[0] - 100, 0), Math.max(p[1] - 30, 0));
    });
  }

  function wirePage() {
    $$(".je-kind[draggable]", root).forEach(function (item) {
      item.addEventListener("dragstart", function (e) {
        e.dataTransfer.setData("text/plain", item.getAttribute("data-kind"));
        e.dataTransfer.effectAllowed = "copy";
      });
      item.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { var p = freeSpot(); addStep(item.getAttribute("data-kind"), p[0], p[1]); }
      });
    });
    root.addEventListener("click", function (e) {
      var action = e.target.closest("[data-action]");
      if (!action) return;
      var name = action.getAttribute("data-action");
      if (name === "undo") E.undo();
      else if (name === "redo") E.redo();
      else if (name === "layout") post(urls.layout).then(function (g) { if (g) fit(); });
      else if (name === "close-dialog") $("#je-dialog").close();
      else if (name === "close-panel") { closePanelIf(); }
      else if (name === "delete-step") removeStep(action.getAttribute("data-key"));
      else if (name === "reload") { e.preventDefault(); window.location.reload(); }
    });
    document.addEventListener("keydown", function (e) {
      var typing = /^(INPUT|TEXTAREA|SELECT)$/.test((e.target.tagName || "")) || e.target.isContentEditable;
      if (typing || !data.editable) return;
      if ((e.key === "Delete" || e.key === "Backspace") && df.connection_selected) { e.preventDefault(); df.removeConnection(); return; }
      var mod = e.ctrlKey || e.metaKey;
      if (mod && !e.shiftKey && e.key.toLowerCase() === "z") { e.preventDefault(); E.undo(); }
      else if (mod && (e.key.toLowerCase() === "y" || (e.shiftKey && e.key.toLowerCase() === "z"))) { e.preventDefault(); E.redo(); }
    });
    document.body.addEventListener("htmx:configRequest", function (e) {
      e.detail.headers["X-Draft-Etag"] = state.graph.etag;
      e.detail.headers["X-CSRFToken"] = csrf();
    });
    document.body.addEventListener("htmx:beforeSwap", function (e) {
      if (e.detail.xhr.status === 400 || e.detail.xhr.status === 409) { e.detail.shouldSwap = true; e.detail.isError = false; }
    });
    document.body.addEventListener("htmx:afterSwap", function (e) {
      if (e.detail.target.id === "je-dialog-body") { var d = $("#je-dialog"); if (!d.open) d.showModal(); }
      if (e.detail.target.id === "je-panel") showWhen(e.detail.target);
    });
    document.body.addEventListener("htmx:afterSettle", function (e) {
      // The panel's controls are live (htmx has processed them): tests and keyboard users may start.
      var body = e.detail.target.id === "je-panel" && $(".je-panel-body", e.detail.target);
      if (body) body.setAttribute("data-ready", "");
    });
    document.body.addEventListener("graphChanged", function (e) {
      var etag = e.detail && e.detail.etag;
      if (etag && etag !== state.graph.etag) {
        // Our own change (a saved form, a publish): undoable, and the next edit carries the new tag.
        state.undo.push(snapshot(state.graph));
        state.redo = [];
        state.graph.etag = etag;
      }
      refresh();
      loadCounts();
    });
    document.body.addEventListener("change", function (e) { if (e.target.closest("#je-panel")) showWhen($("#je-panel")); });
  }

  /* Fields shown only for one choice of another field ("schedule=interval"). */
  function showWhen(panel) {
    $$("[data-show-when]", panel).forEach(function (row) {
      var rule = row.getAttribute("data-show-when").split("="), values = rule[1].split(" ");
      var input = $('[name="step-' + rule[0] + '"]:checked', panel) || $('select[name="step-' + rule[0] + '"]', panel);
      row.hidden = !(input && values.indexOf(input.value) !== -1);
    });
  }

  E.state = state;
  E.canvas = function () { return df; };
  E.start = function () {
    root = document.getElementById("journey-editor");
    canvas = document.getElementById("je-canvas");
    data = JSON.parse(document.getElementById("journey-editor-data").textContent);
    urls = data.urls;
    wireCanvas();
    wirePage();
    apply(data.graph);
    fit();
    // The side panel narrows when idle and widens for a step's form: refit so no node hides behind it.
    if (window.ResizeObserver) {
      var width = canvas.clientWidth;
      new ResizeObserver(function () {
        if (canvas.clientWidth !== width) { width = canvas.clientWidth; fit(); }
      }).observe(canvas);
    }
    loadCounts();
    setInterval(loadCounts, 10000); // at most every 10 s
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", E.start);
  else E.start();
})();
