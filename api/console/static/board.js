// Drag a card onto another column to move it: the card's own form is sent with that status (the server checks
// it and shows a refusal next to the card). Without JavaScript the form does the same.
document.querySelectorAll("[data-board] .card[draggable]").forEach(function (card) {
  card.addEventListener("dragstart", function (event) {
    event.dataTransfer.setData("text/plain", card.dataset.record);
  });
});
document.querySelectorAll("[data-board] .column").forEach(function (column) {
  column.addEventListener("dragover", function (event) { event.preventDefault(); column.classList.add("over"); });
  column.addEventListener("dragleave", function () { column.classList.remove("over"); });
  column.addEventListener("drop", function (event) {
    event.preventDefault();
    column.classList.remove("over");
    var card = document.getElementById("card-" + event.dataTransfer.getData("text/plain"));
    var form = card && card.querySelector("form.move");
    if (!form || card.closest(".column") === column) { return; }
    var select = form.querySelector("select[name=to]");
    var wanted = column.dataset.status;
    if (!Array.prototype.some.call(select.options, function (o) { return o.value === wanted; })) {
      select.add(new Option(wanted, wanted));  // not allowed: the server says why, next to the card
    }
    select.value = wanted;
    form.submit();
  });
});
