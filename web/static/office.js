// immoflow office pages: a fetch() that carries the CSRF token, and the template editor's live preview.
"use strict";

function immoflowFetch(url, options = {}) {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const headers = new Headers(options.headers || {});
  if (meta) headers.set("X-CSRF-Token", meta.content);
  return fetch(url, { credentials: "same-origin", ...options, headers });
}

function livePreview(form) {
  const subject = form.querySelector("#template-subject");
  const body = form.querySelector("#template-body");
  const error = document.getElementById("preview-error");
  const shownSubject = document.getElementById("preview-subject");
  const shownBody = document.getElementById("preview-body");
  let timer = null;
  let latest = 0;

  async function refresh() {
    const request = ++latest;
    const response = await immoflowFetch(form.dataset.previewUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ subject: subject.value, body: body.value }),
    });
    if (request !== latest) return; // an older answer arriving late must not overwrite a newer one
    const result = response.ok ? await response.json() : { ok: false, error: `HTTP ${response.status}` };
    error.hidden = result.ok;
    error.querySelector("span").textContent = result.error || "";
    if (result.ok) {
      shownSubject.textContent = result.subject; // textContent: the preview never becomes markup
      shownBody.textContent = result.body;
    }
    form.dataset.previewState = result.ok ? "ok" : "error";
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => refresh().catch((exc) => { error.hidden = false; error.querySelector("span").textContent = String(exc); }), 300);
  }
  subject.addEventListener("input", schedule);
  body.addEventListener("input", schedule);
}

// A click anywhere on a dashboard row opens its preview; links and buttons inside keep their own target.
function clickableRows() {
  document.querySelectorAll("tr[data-href]").forEach((row) => {
    row.addEventListener("click", (event) => {
      if (event.target.closest("a, button, input, select") || window.getSelection().toString()) return;
      window.location.href = row.dataset.href;
    });
  });
}

// A filter select that applies at once (no inline onchange: the CSP allows no inline script).
function autoSubmit() {
  document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
}

// "Drucken" on documents meant for paper (consent proof).
function printButtons() {
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("template-form");
  if (form && form.dataset.previewUrl) livePreview(form);
  clickableRows();
  autoSubmit();
  printButtons();
});
