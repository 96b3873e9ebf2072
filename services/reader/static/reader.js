// Newsflow reader: keep the list and a pending article fresh without losing the reader's place,
// cast votes in place, remember what this browser read and saved, keyboard shortcuts.
// No framework and no inline script (the Content-Security-Policy forbids it).
"use strict";

(function () {
  // --- this browser's read and saved articles (localStorage; nothing leaves the browser) ---
  function loadSet(key) {
    try { return new Set(JSON.parse(window.localStorage.getItem(key) || "[]")); }
    catch (e) { return new Set(); }
  }
  function storeSet(key, set) {
    try { window.localStorage.setItem(key, JSON.stringify(Array.from(set).slice(-2000))); }
    catch (e) { /* storage full or disabled: the state lasts for this page only */ }
  }
  var read = loadSet("newsflow.read");
  var saved = loadSet("newsflow.saved");

  function toggleSaved(id) {
    if (saved.has(id)) { saved.delete(id); } else { saved.add(id); }
    storeSet("newsflow.saved", saved);
    document.querySelectorAll('button.save[data-id="' + id + '"]').forEach(function (b) {
      b.setAttribute("aria-pressed", saved.has(id) ? "true" : "false");
      b.textContent = saved.has(id) ? "Saved" : "Save";
    });
  }

  function saveButton(id) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "save";
    b.setAttribute("data-id", id);
    b.setAttribute("aria-pressed", saved.has(id) ? "true" : "false");
    b.textContent = saved.has(id) ? "Saved" : "Save";
    b.addEventListener("click", function () { toggleSaved(id); });
    return b;
  }

  // --- times: relative, with the full time in the reader's time zone as a tooltip ----------
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;
  var absolute = window.Intl ? new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }) : null;
  function showTimes(root) {
    var now = Date.now();
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var t = Date.parse(el.getAttribute("datetime"));
      if (isNaN(t)) { return; }
      if (absolute) { el.title = absolute.format(new Date(t)); }
      if (!relative) { return; }
      var s = (t - now) / 1000, a = Math.abs(s);
      var text = a < 60 ? relative.format(Math.round(s), "second")
        : a < 3600 ? relative.format(Math.round(s / 60), "minute")
        : a < 86400 ? relative.format(Math.round(s / 3600), "hour")
        : a < 86400 * 45 ? relative.format(Math.round(s / 86400), "day")
        : absolute ? absolute.format(new Date(t)) : el.textContent;
      el.textContent = text;
    });
  }

  // --- the list: rows updated in place --------------------------------------------------------
  function decorate(row) {
    var id = row.getAttribute("data-id");
    if (!id) { return; }
    row.classList.toggle("read", read.has(id));
    var meta = row.querySelector(".item-meta");
    if (meta && !meta.querySelector("button.save")) { meta.appendChild(saveButton(id)); }
    showTimes(row);
  }

  // Each row remembers the server's HTML it was made from: a refresh replaces only the rows
  // whose HTML changed, so focus, selection and the reader's place survive it.
  var source = new WeakMap();
  function adopt(row) { source.set(row, row.outerHTML); decorate(row); return row; }

  function mergeRows(list, html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;  // rendered and escaped by the server, like the page itself
    var fresh = Array.prototype.filter.call(tpl.content.children, function (n) { return n.tagName === "LI"; });
    var byId = {};
    Array.prototype.forEach.call(list.children, function (row) {
      var id = row.getAttribute("data-id");
      if (id) { byId[id] = row; }
    });
    var wanted = [];
    fresh.forEach(function (row) {
      var id = row.getAttribute("data-id");
      var old = id ? byId[id] : null;
      if (old && source.get(old) === row.outerHTML) { wanted.push(old); return; }
      var made = adopt(document.importNode(row, true));
      if (old) {
        // a changed row keeps its place; focus inside it moves to the same link if it had it
        var focused = old.contains(document.activeElement) ? document.activeElement.classList[0] : null;
        old.replaceWith(made);
        if (focused) {
          var again = made.querySelector("." + CSS.escape(focused));
          if (again) { again.focus(); }
        }
      }
      wanted.push(made);
    });
    var keep = new Set(wanted);
    Array.prototype.slice.call(list.children).forEach(function (row) {
      if (!keep.has(row)) { row.remove(); }
    });
    wanted.forEach(function (row, i) {
      if (list.children[i] !== row) { list.insertBefore(row, list.children[i] || null); }
    });
  }

  function refreshList(list) {
    var url = list.getAttribute("data-refresh-url");
    var every = parseInt(list.getAttribute("data-refresh-ms"), 10) || 3000;
    var etag = null;
    Array.prototype.forEach.call(list.children, adopt);
    if (!url) { return; }
    function tick() {
      var headers = { "Accept": "text/html" };
      if (etag) { headers["If-None-Match"] = etag; }
      fetch(url, { credentials: "same-origin", headers: headers, cache: "no-store" })
        .then(function (r) {
          if (r.status === 304 || !r.ok) { return null; }
          etag = r.headers.get("ETag");
          return r.text();
        })
        .then(function (html) { if (html !== null) { mergeRows(list, html); } })
        .catch(function () { /* the next tick tries again */ })
        .then(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }

  // --- a pending article: its blocks updated in place (a half-typed comment stays) ---------
  var LIVE_BLOCKS = ["headline", "fulltext", "impact", "story", "similar", "raw"];
  function watchArticle(article) {
    if (article.getAttribute("data-final") === "true") { return; }
    var id = article.getAttribute("data-id");
    var status = article.getAttribute("data-status");
    var every = parseInt(article.getAttribute("data-refresh-ms"), 10) || 3000;
    function update() {
      return fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var next = doc.getElementById("article");
          if (!next) { return; }
          LIVE_BLOCKS.forEach(function (block) {
            var now = document.getElementById(block), then = doc.getElementById(block);
            if (now && then) { now.replaceWith(document.importNode(then, true)); }
            else if (!now && then) {
              var aside = document.querySelector(".secondary");
              if (aside) { aside.insertBefore(document.importNode(then, true), aside.firstChild); }
            }
          });
          ["data-status", "data-final"].forEach(function (name) {
            article.setAttribute(name, next.getAttribute(name));
          });
          status = next.getAttribute("data-status");
          showTimes(article);
        });
    }
    function tick() {
      fetch("/api/articles/" + encodeURIComponent(id) + "/status", { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) { return s && s.status !== status ? update() : null; })
        .catch(function () { /* the next tick tries again */ })
        .then(function () {
          if (article.getAttribute("data-final") !== "true") { setTimeout(tick, every); }
        });
    }
    setTimeout(tick, every);
  }

  // --- votes: one per person, a second click takes it back ----------------------------------
  function showCounts(body) {
    var counts = body.votes || body;
    Object.keys(counts).forEach(function (kind) {
      document.querySelectorAll('[data-count="' + kind + '"]').forEach(function (el) {
        el.textContent = String(counts[kind]);
      });
    });
    if (body.mine) {
      document.querySelectorAll("form.vote").forEach(function (form) {
        var mine = body.mine.indexOf(form.getAttribute("data-kind")) >= 0;
        var button = form.querySelector("button");
        if (button) { button.setAttribute("aria-pressed", mine ? "true" : "false"); }
      });
    }
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

  // --- keyboard: j/k move, o open, v original, s save --------------------------------------
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function keyboard(list, article) {
    var current = -1;
    function rows() { return list ? list.querySelectorAll("li.item") : []; }
    function select(i) {
      var all = rows();
      if (!all.length) { return; }
      current = Math.max(0, Math.min(all.length - 1, i));
      all.forEach(function (row, n) { row.classList.toggle("current", n === current); });
      var link = all[current].querySelector("a.title");
      if (link) { link.focus(); }
    }
    function currentRow() {
      var all = rows();
      var focused = document.activeElement && document.activeElement.closest ? document.activeElement.closest("li.item") : null;
      if (focused) { current = Array.prototype.indexOf.call(all, focused); return focused; }
      return current >= 0 ? all[current] : null;
    }
    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
      var row = list ? currentRow() : null;
      var id = row ? row.getAttribute("data-id") : article ? article.getAttribute("data-id") : null;
      switch (event.key) {
        case "j": if (list) { select(current + 1); event.preventDefault(); } break;
        case "k": if (list) { select(current - 1); event.preventDefault(); } break;
        case "o": if (row) { window.location.href = "/articles/" + id; event.preventDefault(); } break;
        case "v": {
          var url = row ? row.getAttribute("data-url") : null;
          var link = article ? document.getElementById("read-original") : null;
          if (link) { url = link.getAttribute("href"); }
          if (url && /^https?:\/\//.test(url)) { window.open(url, "_blank", "noopener,noreferrer"); event.preventDefault(); }
          break;
        }
        case "s": if (id) { toggleSaved(id); event.preventDefault(); } break;
        default: break;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.getElementById("news");
    if (list) {
      refreshList(list);
      var savedLink = document.getElementById("saved-link");
      if (savedLink) {
        savedLink.hidden = false;
        savedLink.addEventListener("click", function (event) {
          event.preventDefault();
          window.location.href = "/?ids=" + encodeURIComponent(Array.from(saved).slice(-200).join(","));
        });
      }
    }
    var article = document.getElementById("article");
    if (article) {
      var id = article.getAttribute("data-id");
      read.add(id);
      storeSet("newsflow.read", read);
      var votes = document.querySelector(".vote-buttons");
      if (votes) { votes.appendChild(saveButton(id)); }
      watchArticle(article);
      enhanceVotes(article);
      showTimes(document);
      fetch("/api/articles/" + encodeURIComponent(id) + "/votes/mine", { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) { if (body) { showCounts(body); } })
        .catch(function () { /* no personal state: the buttons still vote */ });
    }
    keyboard(list, article);
  });
})();
