// /automations form: show only the inputs of each row's chosen action and the fields of the chosen trigger.
// Without JavaScript every input stays visible and the server reads only the chosen ones.
(function () {
  "use strict";
  function syncAction(row) {
    var kind = row.querySelector("[data-action-kind]").value;
    row.querySelectorAll(".action-params").forEach(function (params) {
      params.hidden = params.dataset.kind !== kind;
    });
  }
  function syncTrigger(select) {
    var trigger = select.value;
    document.querySelectorAll("[data-condition-field] optgroup").forEach(function (group) {
      var own = group.dataset.trigger === trigger;
      group.hidden = !own;
      group.disabled = !own;
    });
  }
  document.querySelectorAll("[data-action-row]").forEach(function (row) {
    row.querySelector("[data-action-kind]").addEventListener("change", function () { syncAction(row); });
    syncAction(row);
  });
  var trigger = document.querySelector("[data-trigger-select]");
  if (trigger) {
    trigger.addEventListener("change", function () { syncTrigger(trigger); });
    syncTrigger(trigger);
  }
})();
