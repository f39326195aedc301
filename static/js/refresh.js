// Keep the active-alert table current by polling its rows every 5 seconds.
(function () {
  const table = document.getElementById("alert-table");
  if (!table) return;
  const body = document.getElementById("alert-rows");
  async function refresh() {
    try {
      const response = await fetch(table.dataset.refreshUrl, { credentials: "same-origin" });
      if (response.ok) body.innerHTML = await response.text();
    } catch (error) {
      // Offline for a moment: the next poll tries again.
    }
  }
  setInterval(refresh, 5000);
})();
