// "Report" buttons (forum topics and replies, profiles): asks for a reason and posts it to POST /api/reports/.
// The server decides everything (who may report what; a repeat returns the open report); this only asks and says.
function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

for (const button of document.querySelectorAll("[data-report-type]")) {
  button.addEventListener("click", async () => {
    const reason = prompt("Why are you reporting this? (moderators see it)");
    if (!reason || !reason.trim()) return;
    button.disabled = true;
    try {
      const response = await fetch("/api/reports/", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ content_type: button.dataset.reportType, content_id: button.dataset.reportId, reason: reason.trim() }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error?.fields?.reason?.[0] || body.error?.message || `HTTP ${response.status}`);
      button.textContent = response.status === 201 ? "Reported" : "Already reported";
    } catch (e) {
      button.disabled = false;
      alert(`Could not report: ${e.message}`);
    }
  });
}
