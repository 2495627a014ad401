// Forms with data-upload post their files with fetch() and the CSRF header, so the server's CSRF check
// does not have to buffer a large body; the answer (the page the redirect leads to) replaces this one.
"use strict";

document.querySelectorAll("form[data-upload]").forEach((form) => {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; button.dataset.label = button.textContent; button.textContent = "Wird hochgeladen …"; }
    try {
      const response = await immoflowFetch(form.action, { method: "POST", body: new FormData(form) });
      const html = await response.text();
      // Only a redirect's target is a page to stay on; an error page answers the POST and keeps the address.
      if (response.redirected) history.replaceState(null, "", response.url);
      document.open();
      document.write(html);
      document.close();
    } catch (exc) {
      if (button) { button.disabled = false; button.textContent = button.dataset.label; }
      alert("Hochladen fehlgeschlagen: " + exc);
    }
  });
});
