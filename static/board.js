// The board (/recrutement) when JavaScript runs: a card is dragged to another column, or moved
// with the small form its « Déplacer » link opens, without leaving the page. The form is
// rendered once per column (a <template>) and copied into the card on demand. Both post the
// card's form (the same rules as without JavaScript); a move that needs a reason, a date or
// the review of the stage's e-mail, and a move the rules refuse, go to the page that asks for
// it. Without JavaScript the link leads to a page with the same form.
(function () {
  "use strict";
  var board = document.getElementById("tableau");
  if (!board || !window.fetch || !window.FormData || !window.DOMParser ||
      !("content" in document.createElement("template"))) {
    return;
  }
  var live = document.createElement("p");
  live.className = "visually-hidden";
  live.setAttribute("aria-live", "polite");
  board.parentNode.insertBefore(live, board);
  var dragged = null;

  function formOf(card) {
    return card ? card.querySelector(".card-move__form") : null;
  }

  // The column's move form, shared by its cards.
  function templateOf(card) {
    var column = card ? card.closest(".kanban-column") : null;
    return column ? column.querySelector("template.card-move-template") : null;
  }

  // Copies the column's form into the card (once): its address, ids and names made the card's.
  function attachForm(card) {
    var form = formOf(card);
    var template = templateOf(card);
    var link = card ? card.querySelector(".card-move-link") : null;
    if (form || !template || !link) {
      return form;
    }
    var id = card.getAttribute("data-application");
    var name = card.querySelector(".stage-card__head a");
    form = template.content.querySelector("form").cloneNode(true);
    form.action = link.getAttribute("href").split("?")[0];
    var select = form.querySelector("select");
    select.id = "vers-" + id;
    form.querySelector("label").setAttribute("for", select.id);
    form.querySelector("button .visually-hidden").textContent =
      " " + (name ? name.textContent : "");
    link.parentNode.insertBefore(form, link.nextSibling);
    link.setAttribute("aria-expanded", "true");
    return form;
  }

  // The option of the column's form for a stage, if the card may go there.
  function optionFor(card, stage) {
    var template = templateOf(card);
    if (!template) {
      return null;
    }
    var options = template.content.querySelectorAll("select[name=vers] option");
    for (var i = 0; i < options.length; i++) {
      if (options[i].value === stage) {
        return options[i];
      }
    }
    return null;
  }

  function prepare() {
    var cards = board.querySelectorAll(".stage-card");
    for (var i = 0; i < cards.length; i++) {
      if (templateOf(cards[i])) {
        cards[i].setAttribute("draggable", "true");
      }
    }
  }

  // Replaces the board, its counts and its column links with those of a fresh page.
  function refresh(html, movedId, label) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("tableau");
    if (!fresh) {
      window.location.reload();
      return;
    }
    board.innerHTML = fresh.innerHTML;
    ["h1 .count", ".kanban-stages"].forEach(function (selector) {
      var now = document.querySelector(selector);
      var then = doc.querySelector(selector);
      if (now && then) {
        now.innerHTML = then.innerHTML;
      }
    });
    prepare();
    live.textContent = "Carte déplacée vers « " + label + " ».";
    var moved = document.getElementById("carte-" + movedId);
    var link = moved ? moved.querySelector("a") : null;
    if (link) {
      link.focus();
    }
  }

  function move(card, stage) {
    var option = optionFor(card, stage);
    var form = option ? attachForm(card) : null;
    if (!form) {
      return;
    }
    var select = form.querySelector("select[name=vers]");
    select.value = stage;
    if (option.getAttribute("data-besoin")) {
      // The page asking for the reason or the date, or the e-mail's review.
      form.submit();
      return;
    }
    card.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      credentials: "same-origin",
      redirect: "follow"
    }).then(function (response) {
      if (!response.ok) {
        // Refused (the card changed meanwhile…): the page that says why.
        form.submit();
        return null;
      }
      return response.text().then(function (html) {
        refresh(html, card.getAttribute("data-application"), option.textContent);
      });
    }).catch(function () {
      form.submit();
    });
  }

  board.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".card-move-link") : null;
    if (!link) {
      return;
    }
    var form = attachForm(link.closest(".stage-card"));
    if (form) {
      event.preventDefault();
      form.querySelector("select").focus();
    }
  });

  board.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("card-move__form")) {
      return;
    }
    event.preventDefault();
    var card = form.closest(".stage-card");
    move(card, form.querySelector("select[name=vers]").value);
  });

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".stage-card") : null;
    if (!card) {
      return;
    }
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-application"));
    var columns = board.querySelectorAll(".kanban-column");
    for (var i = 0; i < columns.length; i++) {
      if (optionFor(card, columns[i].getAttribute("data-stage"))) {
        columns[i].classList.add("is-drop-target");
      }
    }
  });

  board.addEventListener("dragend", function () {
    dragged = null;
    var marked = board.querySelectorAll(".is-drop-target, .is-drop-over");
    for (var i = 0; i < marked.length; i++) {
      marked[i].classList.remove("is-drop-target", "is-drop-over");
    }
  });

  function columnAt(event) {
    return event.target.closest ? event.target.closest(".kanban-column") : null;
  }

  board.addEventListener("dragover", function (event) {
    var column = columnAt(event);
    if (dragged && column && optionFor(dragged, column.getAttribute("data-stage"))) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      column.classList.add("is-drop-over");
    }
  });

  board.addEventListener("dragleave", function (event) {
    var column = columnAt(event);
    if (column && !column.contains(event.relatedTarget)) {
      column.classList.remove("is-drop-over");
    }
  });

  board.addEventListener("drop", function (event) {
    var column = columnAt(event);
    if (!dragged || !column) {
      return;
    }
    event.preventDefault();
    var card = dragged;
    move(card, column.getAttribute("data-stage"));
  });

  prepare();
})();
