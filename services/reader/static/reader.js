// Newsflow reader: keep the list and a pending article fresh, cast votes without a reload.
// No framework and no inline script (the Content-Security-Policy forbids it).
"use strict";

(function () {
  function refreshList(list) {
    var url = list.getAttribute("data-refresh-url");
    var every = parseInt(list.getAttribute("data-refresh-ms"), 10) || 3000;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          // The rows are rendered and escaped by the server, like the page itself.
          if (html !== null) { list.innerHTML = html; }
        })
        .catch(function () { /* the next tick tries again */ })
        .then(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }

  function watchArticle(article) {
    if (article.getAttribute("data-final") === "true") { return; }
    var id = article.getAttribute("data-id");
    var status = article.getAttribute("data-status");
    var every = parseInt(article.getAttribute("data-refresh-ms"), 10) || 3000;
    function tick() {
      fetch("/api/articles/" + encodeURIComponent(id) + "/status", { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (s && s.status !== status) { window.location.reload(); return; }
          setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }

  function showCounts(counts) {
    Object.keys(counts).forEach(function (kind) {
      document.querySelectorAll('[data-count="' + kind + '"]').forEach(function (el) {
        el.textContent = String(counts[kind]);
      });
    });
  }

  function enhanceVotes(article) {
    var id = article.getAttribute("data-id");
    document.querySelectorAll("form.vote").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var kind = form.getAttribute("data-kind");
        fetch("/api/articles/" + encodeURIComponent(id) + "/votes", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "application/json" },
          body: JSON.stringify({ kind: kind })
        })
          .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
          .then(showCounts)
          .catch(function () { form.submit(); });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("news");
    if (list) { refreshList(list); }
    var article = document.getElementById("article");
    if (article) { watchArticle(article); enhanceVotes(article); }
  });
})();
