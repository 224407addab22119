// ChronoFlow console: progressive enhancement only. Every page works without this script;
// with it, the schedule preview follows typing, run tables and channel badges refresh themselves,
// the QR code is renewed until the session works, the campaign form previews its audience and
// message, and a campaign's counters follow its event stream.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const every = (ms, fn) => { fn(); return setInterval(fn, ms); };

  // The browser's time zone, for the server to write dates in from the next page on.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (zone && document.body.dataset.zone !== zone) {
    document.cookie = "cf_tz=" + encodeURIComponent(zone) + "; path=/; SameSite=Strict; max-age=31536000";
  }

  // Only the chosen target's fields are shown (and sent).
  const select = document.querySelector("[data-target-select]");
  if (select) {
    const show = () => document.querySelectorAll("fieldset[data-target]").forEach((set) => {
      const on = set.dataset.target === select.value;
      set.hidden = !on;
      set.disabled = !on;
    });
    select.addEventListener("change", show);
    show();
  }

  // How the schedule is read, and its next five fire times, as the user types.
  const scheduleInput = document.querySelector("[data-schedule-input]");
  if (scheduleInput) {
    const box = document.getElementById("schedule-preview");
    const zoneInput = document.getElementById("f-timezone");
    let timer = null;
    let asked = 0;
    const render = (body, ok) => {
      box.replaceChildren();
      if (!ok) {
        const p = document.createElement("p");
        p.className = "field-error";
        p.textContent = body.detail;
        box.append(p);
        return;
      }
      const read = document.createElement("p");
      const lang = document.documentElement.lang === "pt-BR" ? body.description["pt-BR"] : body.description.en;
      read.textContent = box.dataset.labelRead + ": " + lang;
      read.dataset.preview = "description";
      const title = document.createElement("p");
      title.textContent = box.dataset.labelNext;
      const list = document.createElement("ol");
      for (const when of body.nextFireTimes) {
        const item = document.createElement("li");
        item.textContent = new Date(when).toLocaleString(document.documentElement.lang, { timeZoneName: "short" });
        list.append(item);
      }
      box.append(read, title, list);
    };
    const ask = async () => {
      const expression = scheduleInput.value.trim();
      if (!expression) { box.replaceChildren(); return; }
      const mine = ++asked;
      const form = new URLSearchParams({ expression, timezone: zoneInput ? zoneInput.value : "", csrf });
      const answer = await fetch(document.body.dataset.prefix + "/schedules/parse", {
        method: "POST", body: form, headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      });
      if (mine === asked) render(await answer.json(), answer.ok);
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(ask, 250); };
    scheduleInput.addEventListener("input", later);
    if (zoneInput) zoneInput.addEventListener("input", later);
    ask();
  }

  // A run table that refreshes itself, so a new run shows without reloading.
  const runs = document.querySelector("[data-refresh]");
  if (runs) {
    every(1500, async () => {
      const answer = await fetch(runs.dataset.refresh, { headers: { Accept: "text/html" } });
      if (answer.ok) runs.innerHTML = await answer.text();
    });
  }

  // Live channel badges.
  const badge = (status) => {
    const span = document.createElement("span");
    span.className = "badge badge-" + status.toLowerCase();
    span.textContent = status;
    return span;
  };
  const table = document.querySelector("[data-channel-statuses]");
  if (table) {
    every(1500, async () => {
      const answer = await fetch(table.dataset.channelStatuses, { headers: { Accept: "application/json" } });
      if (!answer.ok) return;
      const statuses = await answer.json();
      for (const cell of table.querySelectorAll("[data-channel-status]")) {
        const status = statuses[cell.dataset.channelStatus];
        if (status && cell.textContent.trim() !== status) cell.replaceChildren(badge(status));
      }
    });
  }

  // The QR code, renewed until the session is WORKING (the image route answers 204 then).
  const qrBox = document.querySelector("[data-qr]");
  if (qrBox) {
    const image = qrBox.querySelector("[data-qr-image]");
    const poll = setInterval(async () => {
      const answer = await fetch(qrBox.dataset.qr + "?t=" + Date.now());
      if (answer.status === 204) {
        clearInterval(poll);
        if (image) image.remove();
        qrBox.querySelector("[data-connected]").hidden = false;
        qrBox.querySelector("[data-channel-status]").replaceChildren(badge("WORKING"));
      } else if (answer.ok && image) {
        const old = image.src;
        image.src = URL.createObjectURL(await answer.blob());
        if (old.startsWith("blob:")) URL.revokeObjectURL(old);
      }
    }, 1500);
  }

  // The campaign form: how many contacts the audience reaches, and the message the first one gets.
  const campaignForm = document.querySelector("[data-campaign-form]");
  if (campaignForm) {
    const box = document.getElementById("campaign-preview");
    let timer = null;
    let asked = 0;
    const ask = async () => {
      const form = new URLSearchParams();
      for (const name of ["tags", "allTags", "excludeTags", "messageTemplate"]) {
        form.set(name, campaignForm.elements[name].value);
      }
      form.set("csrf", csrf);
      const mine = ++asked;
      const answer = await fetch(document.body.dataset.prefix + "/campaigns/preview", {
        method: "POST", body: form, headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      });
      const body = await answer.json();
      if (mine !== asked) return;
      box.replaceChildren();
      const line = document.createElement("p");
      if (!answer.ok) {
        line.className = "field-error";
        line.textContent = body.detail;
        box.append(line);
        return;
      }
      line.dataset.preview = "audience";
      line.textContent = box.dataset.labelReach + ": " + body.reachable.toLocaleString(document.documentElement.lang);
      box.append(line);
      if (body.message !== null) {
        const title = document.createElement("p");
        title.textContent = box.dataset.labelSample.replace("{phone}", body.phone);
        const sample = document.createElement("pre");
        sample.dataset.preview = "message";
        sample.textContent = body.message;
        box.append(title, sample);
      }
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(ask, 300); };
    for (const name of ["tags", "allTags", "excludeTags", "messageTemplate"]) {
      campaignForm.elements[name].addEventListener("input", later);
    }
    if (campaignForm.elements.tags.value || campaignForm.elements.allTags.value) ask();
  }

  // Live campaign counters: the campaign's event stream (server-sent events), no reloading.
  const live = document.querySelector("[data-campaign-events]");
  if (live && !("final" in live.dataset) && window.EventSource) {
    const stream = new EventSource(live.dataset.campaignEvents);
    const number = (n) => Number(n).toLocaleString(document.documentElement.lang);
    stream.addEventListener("progress", (event) => {
      const state = JSON.parse(event.data);
      for (const cell of live.querySelectorAll("[data-counter]")) {
        const value = state[cell.dataset.counter];
        if (value !== undefined) cell.textContent = number(value);
      }
      const done = state.total - state.pending - state.sending;
      const bar = live.querySelector("[data-progress]");
      bar.max = Math.max(state.total, 1);
      bar.value = done;
      live.querySelector("[data-progress-text]").textContent = number(done) + " / " + number(state.total);
      const status = live.querySelector("[data-campaign-status]");
      if (status.textContent.trim() !== state.status) status.replaceChildren(badge(state.status));
      if (state.status === "completed" || state.status === "cancelled") stream.close();
    });
    stream.addEventListener("deleted", () => stream.close());
  }

  // Deleting asks first.
  document.querySelectorAll("form[data-confirm]").forEach((form) => form.addEventListener("submit", (event) => {
    if (!confirm(form.querySelector("button").textContent + "?")) event.preventDefault();
  }));

  // Line numbers that follow the code.
  const code = document.querySelector("[data-code]");
  if (code) {
    const gutter = code.parentElement.querySelector(".gutter");
    const number = () => {
      const count = code.value.split("\n").length;
      if (gutter.children.length === count) return;
      gutter.replaceChildren(...Array.from({ length: count }, (_, i) => {
        const span = document.createElement("span");
        span.textContent = String(i + 1);
        return span;
      }));
    };
    code.addEventListener("input", number);
    code.addEventListener("scroll", () => { gutter.scrollTop = code.scrollTop; });
  }
})();
