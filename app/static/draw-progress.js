// Polls a background draw's progress and reloads the page when it ends.
(function () {
  const box = document.getElementById("draw-progress");
  if (!box || box.dataset.state === "failed") return;
  const bar = box.querySelector(".progress-bar");
  const tick = async () => {
    const response = await fetch(box.dataset.url, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const p = await response.json();
    bar.style.width = p.percent + "%";
    box.querySelector("[data-role=percent]").textContent = p.percent + "%";
    box.querySelector("[data-role=stage]").textContent = p.stage;
    box.querySelector("[data-role=message]").textContent = p.message || "";
    if (p.state === "done" || p.state === "failed") { window.location.reload(); return; }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 1000);
})();
