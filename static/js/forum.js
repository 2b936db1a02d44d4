// Forum composer preview: sends the textarea's markdown to POST /api/forum/preview/ and shows the HTML
// the server renders (markdown, then the nh3 allow-list, highlighting and mention links): the same HTML
// a saved topic or reply shows, and the only HTML this script inserts. No build step, no dependencies.

for (const box of document.querySelectorAll("[data-preview]")) {
  const form = box.closest("form");
  const source = form.querySelector("[data-preview-source]");
  const output = box.querySelector("[data-preview-output]");
  const error = box.querySelector("[data-preview-error]");
  const button = box.querySelector("[data-preview-button]");
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  button.addEventListener("click", async () => {
    if (!output.hidden) {  // toggle back to writing
      output.hidden = true;
      button.textContent = "Preview";
      source.focus();
      return;
    }
    error.hidden = true;
    try {
      const response = await fetch(box.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ content: source.value }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(body.error?.fields?.content?.[0] || body.error?.message || `HTTP ${response.status}`);
      output.innerHTML = body.html || "<p class=\"muted\">Nothing to preview.</p>";
      output.hidden = false;
      button.textContent = "Write";
    } catch (e) {
      error.textContent = `Could not preview: ${e.message}`;
      error.hidden = false;
    }
  });
}
