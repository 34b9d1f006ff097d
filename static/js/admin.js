// The admin console's only script (the Content-Security-Policy admits no inline
// script): the live rule preview, and buttons that fill a form field.
(function () {
  "use strict";

  // "Did you mean" and field-name buttons fill the rule's field; the recent-issue
  // buttons fill the issue to test against.
  document.addEventListener("click", function (event) {
    const fieldButton = event.target.closest("[data-use-field]");
    const issueButton = event.target.closest("[data-use-issue]");
    const form = document.getElementById("rule-form");
    if (!form || !(fieldButton || issueButton)) return;
    event.preventDefault();
    if (fieldButton) form.elements.field.value = fieldButton.dataset.useField;
    if (issueButton) form.elements.issue_id.value = issueButton.dataset.useIssue;
    form.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // The preview follows the form: each change posts it (with its CSRF token) to
  // the preview URL, which answers an HTML fragment; the last answer wins.
  const form = document.querySelector("form[data-rule-preview]");
  const target = document.getElementById("rule-preview");
  if (!form || !target) return;
  const url = form.dataset.rulePreview;
  let timer = null;
  let sent = 0;

  function refresh() {
    const mine = ++sent;
    target.classList.add("is-loading");
    fetch(url, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch", Accept: "text/html" },
      credentials: "same-origin",
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        if (mine !== sent) return; // an answer to an older state of the form
        target.innerHTML = html;
      })
      .catch(function () { /* the Preview button still works */ })
      .finally(function () { if (mine === sent) target.classList.remove("is-loading"); });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
  // The Preview button refreshes in place instead of reloading the page.
  const button = form.querySelector("[data-testid=preview-rule]");
  if (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      clearTimeout(timer);
      refresh();
    });
  }
})();
