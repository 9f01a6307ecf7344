// Draws each process instance of a trace page with the bpmn-js NavigatedViewer and marks
// the path: completed, active and cancelled elements, the sequence flows taken, and a count
// on every element passed more than once. The data comes from the page's JSON twin, so no
// user text is ever written into a script.
(function () {
  "use strict";
  const root = document.getElementById("trace");
  if (!root || typeof BpmnJS === "undefined") return;

  const MARKERS = [
    ["completed", "trace-completed"],
    ["cancelled", "trace-cancelled"],
    ["active", "trace-active"],
    ["flows_taken", "trace-flow-taken"],
  ];

  async function draw(container, instance) {
    const viewer = new BpmnJS({ container: container });
    await viewer.importXML(instance.diagram_xml);
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    const overlays = viewer.get("overlays");
    for (const [key, marker] of MARKERS) {
      for (const id of instance[key]) {
        if (registry.get(id)) canvas.addMarker(id, marker);
      }
    }
    for (const [id, count] of Object.entries(instance.counts)) {
      const element = registry.get(id);
      if (count < 2 || !element) continue;
      const badge = document.createElement("div");
      badge.className = "trace-count";
      badge.textContent = "\u00d7" + count;
      badge.title = root.dataset.passedLabel + ": " + count;
      badge.dataset.element = id;
      overlays.add(id, "trace-count", { position: { top: -10, right: 10 }, html: badge });
    }
    // As tall as the diagram is at the page's width (within bounds), then fit it in.
    const inner = canvas.viewbox().inner;
    if (inner.width > 0) {
      const height = Math.ceil((container.clientWidth * inner.height) / inner.width) + 40;
      container.style.height = Math.max(240, Math.min(720, height)) + "px";
      canvas.resized();
    }
    canvas.zoom("fit-viewport");
    container.dataset.rendered = "true";
  }

  function failed(container, error) {
    const note = document.createElement("div");
    note.className = "alert alert-danger small m-2";
    note.textContent = root.dataset.failedLabel + " " + (error && error.message ? error.message : "");
    container.replaceChildren(note);
    container.dataset.rendered = "failed";
  }

  fetch(root.dataset.traceUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    })
    .then((trace) => {
      for (const instance of trace.instances) {
        const container = root.querySelector('[data-trace-canvas="' + instance.instance_id + '"]');
        if (!container || !instance.diagram_xml) continue;
        draw(container, instance).catch((error) => failed(container, error));
      }
    })
    .catch((error) => {
      for (const container of root.querySelectorAll("[data-trace-canvas]")) failed(container, error);
    });
})();
