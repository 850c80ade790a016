// Twostep's pages work without this script; it makes them better: the
// settings window and its tabs, switches that change in place (and ask
// before turning 2FA off), the resend countdown, one submit per form, the
// password's Show button, and times in the reader's own zone.
"use strict";

(function () {
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  // An error summary takes focus, so screen readers hear it first.
  var summary = $("[data-error-summary]");
  if (summary && !summary.closest("dialog")) { summary.focus(); }

  // One submit per form: a second click does nothing.
  $$("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      if (form.dataset.sent) { e.preventDefault(); return; }
      form.dataset.sent = "1";
      setTimeout(function () { delete form.dataset.sent; }, 5000);
    });
  });

  // Show and hide a password.
  $$("[data-show-password]").forEach(function (button) {
    var input = document.getElementById(button.dataset.showPassword);
    button.hidden = false;
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? "Hide" : "Show";
      button.setAttribute("aria-pressed", String(show));
      button.setAttribute("aria-label", show ? "Hide password" : "Show password");
    });
    button.setAttribute("aria-label", "Show password");
  });

  // Times in the reader's zone: "14:35 (UTC+2)".
  $$("time[data-local-time]").forEach(function (el) {
    var t = new Date(el.getAttribute("datetime"));
    if (isNaN(t)) { return; }
    var parts = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZoneName: "shortOffset" }).formatToParts(t);
    var time = "", zone = "";
    parts.forEach(function (p) {
      if (p.type === "timeZoneName") { zone = p.value; } else if (p.type !== "literal" || time) { time += p.value; }
    });
    zone = zone.replace("GMT", "UTC").replace(/^UTC\+0$/, "UTC");
    el.textContent = time.trim() + (zone ? " (" + zone + ")" : "");
  });

  // A code's time: the words follow it, and when it is up the page is
  // read again, so that it shows the expired state and its next step
  // rather than a form for a code that no longer works. The time left
  // comes from the server, so the reader's clock does not matter.
  $$("[data-expires-in-seconds]").forEach(function (box) {
    var end = Date.now() + Number(box.dataset.expiresInSeconds) * 1000;
    var text = $("[data-expires-in]", box);
    function tick() {
      var left = Math.ceil((end - Date.now()) / 1000);
      if (left <= 0) { location.assign(box.dataset.expiredPage); return; }
      var m = Math.round(left / 60);
      text.textContent = left < 60 ? (left === 1 ? "1 second" : left + " seconds") : (m === 1 ? "1 minute" : m + " minutes");
      setTimeout(tick, left <= 60 ? 1000 : 15000);
    }
    setTimeout(tick, 1000);
  });

  // The resend countdown: the words change every second, but screen
  // readers hear only its end, once.
  $$("[data-countdown-until]").forEach(function (box) {
    var until = new Date(box.dataset.countdownUntil).getTime();
    var text = $("[data-countdown]", box);
    var done = box.parentNode.querySelector("[data-countdown-done]");
    var after = $$("[data-after-countdown]", box.parentNode);
    after.forEach(function (el) { el.hidden = true; });
    function words(s) { return s === 1 ? "1 second" : s + " seconds"; }
    function tick() {
      var left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) {
        box.hidden = true;
        after.forEach(function (el) { el.hidden = false; });
        if (done) { done.textContent = "You can now request a new code."; }
        return;
      }
      text.textContent = left >= 60 ? Math.ceil(left / 60) + " minute" + (left > 60 ? "s" : "") : words(left);
      setTimeout(tick, 1000);
    }
    tick();
  });

  // Focus stays inside an open dialog: Tab from its last control goes to
  // its first, Shift+Tab from its first to its last.
  function trapFocus(d) {
    d.addEventListener("keydown", function (e) {
      if (e.key !== "Tab") { return; }
      var items = $$("a[href], button, input, select, textarea, [tabindex]", d).filter(function (el) {
        return !el.disabled && el.tabIndex >= 0 && el.type !== "hidden" && el.getClientRects().length > 0;
      });
      if (!items.length) { return; }
      var first = items[0], last = items[items.length - 1];
      if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
    });
  }
  $$("dialog").forEach(trapFocus);

  // The settings window: a native dialog with tabs. Closing it with
  // changes not saved asks first, in a dialog of its own: discarding puts
  // the forms back as they were loaded; keeping goes back to editing.
  var dialog = document.getElementById("settings-dialog");
  if (dialog && typeof dialog.showModal === "function") {
    var opener = $("[data-opens='settings-dialog']");
    var tabs = setUpTabs($("[data-tabs]", dialog), loadAuditTab);
    var forms = $$("form[data-dirty-check]", dialog);
    var confirmDiscard = document.getElementById("confirm-discard");
    var dirty = false, closing = false, returnTo = null;
    forms.forEach(function (form) {
      form.addEventListener("input", function () { dirty = true; });
      form.addEventListener("change", function () { dirty = true; });
      form.addEventListener("submit", function () { dirty = false; });
    });
    var close = function () { closing = true; dialog.close(); closing = false; };
    var askToDiscard = function () {
      returnTo = document.activeElement;
      confirmDiscard.returnValue = "";
      confirmDiscard.showModal();
      $("[data-keep-editing]", confirmDiscard).focus();
    };
    var mayClose = function () {
      if (!dirty) { close(); return; }
      askToDiscard();
    };
    $("[data-keep-editing]", confirmDiscard).addEventListener("click", function () { confirmDiscard.close("keep"); });
    $("[data-discard]", confirmDiscard).addEventListener("click", function () { confirmDiscard.close("discard"); });
    // However the question closes — a button, Escape, the browser — only
    // "Discard changes" discards.
    confirmDiscard.addEventListener("close", function () {
      if (confirmDiscard.returnValue === "discard") {
        forms.forEach(function (form) { form.reset(); });
        dirty = false;
        close();
        return;
      }
      var back = returnTo && dialog.contains(returnTo) ? returnTo : $("[role=tab][aria-selected=true]", dialog);
      if (back) { back.focus(); }
    });
    opener.addEventListener("click", function (e) {
      e.preventDefault();
      dialog.showModal();
      var selected = tabs && $("[role=tab][aria-selected=true]", dialog);
      if (selected) { selected.focus(); }
      if (tabs) { tabs.refresh(); }
    });
    $("[data-close]", dialog).addEventListener("click", mayClose);
    dialog.addEventListener("cancel", function (e) {
      if (dirty) { e.preventDefault(); askToDiscard(); }
    });
    // A browser may close the window on Escape whatever the page says:
    // with changes not saved, it opens again and asks.
    dialog.addEventListener("close", function () {
      if (dirty && !closing) { dialog.showModal(); askToDiscard(); return; }
      opener.focus();
    });
    if (dialog.dataset.openOnLoad !== undefined) {
      if (tabs && dialog.dataset.openOnLoad) { tabs.select(dialog.dataset.openOnLoad); }
      dialog.showModal();
      var first = $("[data-error-summary], [data-saved]", dialog);
      if (first) { first.focus(); first.scrollIntoView({ block: "nearest" }); }
    }
  }

  // The Audit log tab reads its latest events each time it opens.
  function loadAuditTab(panel) {
    var box = $("[data-audit-latest]", panel);
    if (!box) { return; }
    fetch(box.dataset.auditLatest, { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (res) {
      if (!res.ok) { throw new Error(res.status); }
      return res.text();
    }).then(function (html) {
      box.innerHTML = html;
    }).catch(function () {
      box.innerHTML = "";
      var p = document.createElement("p");
      p.className = "error-message";
      p.textContent = "The audit log could not be loaded. Try again in a moment.";
      box.appendChild(p);
    });
  }

  // Tabs in the WAI-ARIA pattern: arrows move between tabs, which select
  // as they take focus; Home and End go to the ends.
  function setUpTabs(root, onShow) {
    if (!root) { return null; }
    var panels = $$("[data-tab-panel]", root);
    var list = document.createElement("div");
    list.className = "tab-list";
    list.setAttribute("role", "tablist");
    list.setAttribute("aria-label", "Settings sections");
    var buttons = panels.map(function (panel) {
      var heading = $("h2, h3", panel);
      var tab = document.createElement("button");
      tab.type = "button";
      tab.className = "tab";
      tab.id = panel.id + "-tab";
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", panel.id);
      tab.textContent = heading.textContent;
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
      panel.setAttribute("tabindex", "0");
      list.appendChild(tab);
      return tab;
    });
    root.insertBefore(list, root.firstChild);
    root.classList.add("js-tabs");
    var current = 0;
    function select(i, focus) {
      current = i;
      buttons.forEach(function (b, j) {
        var on = i === j;
        b.setAttribute("aria-selected", String(on));
        b.tabIndex = on ? 0 : -1;
        panels[j].hidden = !on;
      });
      if (focus) { buttons[i].focus(); }
      if (onShow) { onShow(panels[i]); }
    }
    buttons.forEach(function (b, i) {
      b.addEventListener("click", function () { select(i, true); });
      b.addEventListener("keydown", function (e) {
        var n = buttons.length, to = -1;
        if (e.key === "ArrowRight") { to = (i + 1) % n; }
        if (e.key === "ArrowLeft") { to = (i - 1 + n) % n; }
        if (e.key === "Home") { to = 0; }
        if (e.key === "End") { to = n - 1; }
        if (to >= 0) { e.preventDefault(); select(to, true); }
      });
    });
    var start = 0;
    panels.forEach(function (p, i) { if (location.hash === "#" + p.id) { start = i; } });
    select(start, false);
    return {
      select: function (name) {
        panels.forEach(function (p, i) { if (p.id === "tab-" + name) { select(i, false); } });
      },
      // refresh shows the open tab again, reading what it reads anew.
      refresh: function () { if (onShow) { onShow(panels[current]); } }
    };
  }

  // The activity charts: each day's figure shows above its bar on hover
  // and focus; within a chart, the arrow keys move from day to day, so
  // that the page's Tab order has one stop per chart.
  $$("svg[data-chart]").forEach(function (svg) {
    var figure = svg.closest("figure"), tip = $(".chart-tip", figure);
    var links = $$("a.chart-link", svg);
    if (!links.length) { return; }
    var shown = null;
    // The tip goes over its bar, as far as the figure allows.
    var show = function (link) {
      shown = link;
      tip.textContent = link.dataset.tip;
      tip.hidden = false;
      tip.style.left = "0px";
      tip.style.width = "";
      tip.style.width = tip.offsetWidth + "px"; // its width at the left, kept where it goes
      var bar = link.getBoundingClientRect(), box = figure.getBoundingClientRect();
      var x = bar.left + bar.width / 2 - box.left - tip.offsetWidth / 2;
      tip.style.left = Math.max(0, Math.min(x, box.width - tip.offsetWidth)) + "px";
    };
    var hide = function () { shown = null; tip.hidden = true; };
    window.addEventListener("resize", function () { if (shown) { show(shown); } });
    links.forEach(function (link, i) {
      link.setAttribute("tabindex", i === links.length - 1 ? "0" : "-1");
      link.addEventListener("mouseenter", function () { show(link); });
      link.addEventListener("mouseleave", function () { if (document.activeElement !== link) { hide(); } });
      link.addEventListener("focus", function () { show(link); });
      link.addEventListener("blur", hide);
      link.addEventListener("keydown", function (e) {
        var to = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: links.length - 1 }[e.key];
        if (to === undefined || to < 0 || to >= links.length) { return; }
        e.preventDefault();
        link.setAttribute("tabindex", "-1");
        links[to].setAttribute("tabindex", "0");
        links[to].focus();
      });
    });
  });

  // Selecting users for a change to many: a box for the whole page, and
  // a count of those selected.
  var bulk = document.getElementById("bulk");
  if (bulk) {
    var boxes = $$("input[data-select]"), pageBox = $("[data-select-page]"), all = $("#bulk-all");
    var count = $("[data-selected-count]", bulk);
    var tell = function () {
      var n = boxes.filter(function (b) { return b.checked; }).length;
      if (all.checked) {
        count.textContent = "Every user counted above will change.";
      } else {
        count.textContent = n === 0 ? "No users selected." : n === 1 ? "1 user selected." : n + " users selected.";
      }
      if (pageBox) {
        pageBox.checked = n === boxes.length && n > 0;
        pageBox.indeterminate = n > 0 && n < boxes.length;
      }
    };
    if (pageBox) {
      pageBox.hidden = false;
      pageBox.addEventListener("change", function () {
        boxes.forEach(function (b) { b.checked = pageBox.checked; });
        tell();
      });
    }
    boxes.forEach(function (b) { b.addEventListener("change", tell); });
    all.addEventListener("change", tell);
    tell();
  }

  // Switches change in place. Turning 2FA off asks first, with the safe
  // answer focused.
  var status = $("[data-switch-status]");
  var confirmOff = document.getElementById("confirm-off");
  $$("form[data-switch]").forEach(function (form) {
    var button = $("button[role=switch]", form);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var on = button.getAttribute("aria-checked") === "true";
      if (on && confirmOff && typeof confirmOff.showModal === "function") {
        $("[data-confirm-text]", confirmOff).textContent =
          form.dataset.user + " will sign in to the " + form.dataset.app + " with a password only.";
        var keep = $("[data-keep]", confirmOff), off = $("[data-turn-off]", confirmOff);
        var done = function (turnOff) {
          keep.onclick = off.onclick = null;
          confirmOff.close();
          button.focus();
          if (turnOff) { send(form, button, false); }
        };
        keep.onclick = function () { done(false); };
        off.onclick = function () { done(true); };
        confirmOff.oncancel = function (ev) { ev.preventDefault(); done(false); };
        confirmOff.showModal();
        keep.focus();
        return;
      }
      send(form, button, !on);
    });
  });

  function send(form, button, enable) {
    var body = new URLSearchParams(new FormData(form));
    body.set("enabled", String(enable));
    button.setAttribute("aria-busy", "true");
    fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (res) {
      if (!res.ok) { throw new Error(res.status); }
      return res.json();
    }).then(function (got) {
      button.setAttribute("aria-checked", String(got.enabled));
      $(".switch-text", button).textContent = got.enabled ? "On" : "Off";
      $("input[name=enabled]", form).value = String(!got.enabled);
      if (status) {
        status.textContent = "Two-factor authentication is " + (got.enabled ? "on" : "off") +
          " for " + got.user + " in the " + got.app + ".";
      }
    }).catch(function () {
      if (status) { status.textContent = "The change could not be saved. Try again."; }
    }).finally(function () { button.removeAttribute("aria-busy"); });
  }

  // Passkeys: the WebAuthn ceremony, where the browser can do it from
  // JSON (PublicKeyCredential.parse…FromJSON); elsewhere the page offers
  // the other ways to sign in. The answer goes back as a form field.
  var canPasskey = window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON &&
    PublicKeyCredential.parseRequestOptionsFromJSON && navigator.credentials;
  function postForm(url, fields) {
    var body = new URLSearchParams();
    Object.keys(fields || {}).forEach(function (k) { body.set(k, fields[k]); });
    return fetch(url, { method: "POST", credentials: "same-origin", body: body }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) { throw new Error(j.error || "Something went wrong. Try again."); }
        return j;
      });
    });
  }
  function passkeyFailed(box, e, words) {
    var out = $("[data-passkey-error]", box);
    out.textContent = e && e.name === "NotAllowedError" ? words : (e && e.message) || words;
    out.hidden = false;
    $("button", box).disabled = false;
  }
  $$("[data-passkey-fallback]").forEach(function (p) { if (canPasskey) { p.hidden = true; } });
  // Offer to add one only where the browser says it can make one: a
  // passkey on the device, or on a phone nearby (getClientCapabilities,
  // where the browser has it).
  function canCreatePasskey() {
    if (!canPasskey) { return Promise.resolve(false); }
    if (!PublicKeyCredential.getClientCapabilities) { return Promise.resolve(true); }
    return PublicKeyCredential.getClientCapabilities().then(function (c) {
      return c.passkeyPlatformAuthenticator !== false || c.userVerifyingPlatformAuthenticator !== false || c.hybridTransport !== false;
    }, function () { return true; });
  }
  $$("[data-passkey-register]").forEach(function (box) {
    canCreatePasskey().then(function (ok) { box.hidden = !ok; });
    $("button", box).addEventListener("click", function () {
      this.disabled = true;
      $("[data-passkey-error]", box).hidden = true;
      postForm(box.dataset.begin).then(function (o) {
        return navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(o.publicKey) });
      }).then(function (cred) {
        return postForm(box.dataset.finish, { answer: JSON.stringify(cred.toJSON()) });
      }).then(function () {
        $("[data-passkey-done]").submit();
      }).catch(function (e) { passkeyFailed(box, e, "The passkey was not set up. Try again, or set up an authenticator app."); });
    });
  });
  $$("[data-passkey-login]").forEach(function (box) {
    if (!canPasskey) { return; }
    box.hidden = false;
    $("button", box).addEventListener("click", function () {
      this.disabled = true;
      $("[data-passkey-error]", box).hidden = true;
      var remember = $("input[name=remember]", box);
      postForm(box.dataset.begin).then(function (o) {
        return navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o.publicKey) });
      }).then(function (cred) {
        return postForm(box.dataset.finish, { answer: JSON.stringify(cred.toJSON()), remember: remember && remember.checked ? "on" : "" });
      }).then(function (j) {
        window.location.assign(j.redirect);
      }).catch(function (e) { passkeyFailed(box, e, "The passkey did not sign you in. Try again, or choose another way."); });
    });
  });
})();
