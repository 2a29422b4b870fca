// Replydesk review page. Plain JavaScript, no build step, no dependencies.
//
// Safety rules this file keeps:
//  - every piece of text from the API (buyer messages, drafts, passages, errors) reaches the
//    page through textContent / text nodes, never through HTML parsing;
//  - the API key lives in sessionStorage only and travels in the Authorization header, never
//    in a URL;
//  - the page runs under a Content-Security-Policy without 'unsafe-inline', so there are no
//    inline handlers or style attributes here either.
"use strict";

const KEY_STORAGE = "replydesk.apiKey";
const AGENT_STORAGE = "replydesk.agentName";
const REVIEWABLE = "suggested";
const SENDABLE = new Set(["approved", "edited"]);
const KNOWN_URGENCY = new Set(["low", "normal", "high", "urgent"]);
const KNOWN_STATES = new Set(["suggested", "approved", "edited", "rejected", "sent"]);
const KNOWN_SEVERITY = new Set(["error", "warning"]);

const app = {
  vocabulary: { intents: [], reject_reasons: [], draft_states: [] },
  ticketId: null,
  listRequest: 0,
  detailRequest: 0,
};

// ------------------------------------------------------------------ DOM helpers

/** Build an element. Strings become text nodes; `on` maps event names to listeners. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name === "text") el.textContent = String(value);
    else if (name === "on") for (const [event, fn] of Object.entries(value)) el.addEventListener(event, fn);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "value") el.value = String(value);
    else if (name === "checked") el.checked = Boolean(value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const $ = (id) => document.getElementById(id);

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
}

const humanize = (value) => String(value ?? "").replaceAll("_", " ");
const percent = (value) => (typeof value === "number" ? `${Math.round(value * 100)}%` : "");

/** A class name only for values we know, so API text never shapes the markup. */
function known(prefix, value, allowed) {
  return allowed.has(value) ? `${prefix}-${value}` : `${prefix}-other`;
}

function badge(prefix, value, allowed) {
  return h("span", { class: `badge ${known(prefix, value, allowed)}` }, humanize(value || "none"));
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : dateFormat.format(date);
}

function relativeTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const minutes = Math.round((date.getTime() - Date.now()) / 60000);
  const abs = Math.abs(minutes);
  const span = abs < 60 ? `${abs} min` : abs < 48 * 60 ? `${Math.round(abs / 60)} h` : `${Math.round(abs / 1440)} d`;
  return minutes >= 0 ? `in ${span}` : `${span} overdue`;
}

function timeEl(iso, { relative = false } = {}) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const text = relative ? `${formatTime(iso)} (${relativeTime(iso)})` : formatTime(iso);
  return h("time", { datetime: iso }, text);
}

function firstLine(text, max = 90) {
  const line = String(text || "").split(/\r?\n/).find((l) => l.trim()) || "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

// ------------------------------------------------------------------ status and errors

let statusTimer = null;

function announce(message) {
  const el = $("status");
  el.textContent = message;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => {
    el.textContent = "";
  }, 6000);
}

function showError(message) {
  const el = $("error");
  el.textContent = message;
  el.hidden = !message;
}

class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** What to tell the agent about a failed request. */
function explain(error) {
  if (!(error instanceof ApiFailure)) return `Something went wrong: ${error.message || error}`;
  if (error.status === 409) {
    return `Someone else changed this draft — reload to see the latest version. (${error.message})`;
  }
  if (error.status === 0) return error.message;
  return `${error.status} ${error.code}: ${error.message}`;
}

// ------------------------------------------------------------------ API

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

async function api(method, path, { body, version } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${apiKey()}` };
  const agent = sessionStorage.getItem(AGENT_STORAGE);
  if (agent) headers["X-Agent-Id"] = agent;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (version !== undefined && version !== null) headers["If-Match"] = `"${version}"`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
  } catch (err) {
    throw new ApiFailure(0, "network", `Could not reach the Replydesk server (${err.message}).`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const info = data && typeof data === "object" && data.error ? data.error : {};
    const failure = new ApiFailure(
      Number(info.status) || response.status,
      String(info.code || "error"),
      String(info.message || response.statusText || "request failed"),
    );
    if (failure.status === 401) signOut(`Your API key was not accepted: ${failure.message}`);
    throw failure;
  }
  return data;
}

// ------------------------------------------------------------------ sign in / out

function showSignedIn() {
  $("sign-in").hidden = true;
  $("workspace").hidden = false;
  $("session-info").hidden = false;
  const agent = sessionStorage.getItem(AGENT_STORAGE);
  $("session-agent").textContent = agent ? `Signed in as ${agent}` : "Signed in";
}

function signOut(reason) {
  sessionStorage.removeItem(KEY_STORAGE);
  app.ticketId = null;
  $("workspace").hidden = true;
  $("session-info").hidden = true;
  $("sign-in").hidden = false;
  clear($("tickets-body"));
  clear($("detail-body"));
  showError(reason || "");
  $("api-key").value = "";
  $("api-key").focus();
}

async function onSignIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  const agent = $("agent-name").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY_STORAGE, key);
  if (agent) sessionStorage.setItem(AGENT_STORAGE, agent);
  else sessionStorage.removeItem(AGENT_STORAGE);
  $("api-key").value = "";
  showError("");
  showSignedIn();
  const ok = await loadTickets();
  if (ok) {
    announce("Signed in.");
    $("tickets-title").setAttribute("tabindex", "-1");
    $("tickets-title").focus();
  }
}

// ------------------------------------------------------------------ ticket list

async function loadVocabulary() {
  try {
    const response = await fetch("/ui/vocabulary.json", { cache: "no-store" });
    if (response.ok) app.vocabulary = await response.json();
  } catch {
    // The page still works without it: the filter just lists no intents.
  }
  const select = $("intent-filter");
  for (const intent of app.vocabulary.intents) select.append(h("option", { value: intent }, humanize(intent)));
}

async function loadTickets() {
  const request = ++app.listRequest;
  const intent = $("intent-filter").value;
  const query = new URLSearchParams({ limit: "100" });
  if (intent) query.set("intent", intent);
  let tickets;
  try {
    tickets = await api("GET", `/v1/tickets?${query}`);
  } catch (error) {
    if (error.status !== 401) showError(explain(error));
    return false;
  }
  if (request !== app.listRequest) return true; // a newer load is on its way
  renderTickets(tickets);
  return true;
}

function renderTickets(tickets) {
  const body = $("tickets-body");
  clear(body);
  $("list-empty").hidden = tickets.length > 0;
  for (const ticket of tickets) {
    const latest = ticket.drafts.length ? ticket.drafts[ticket.drafts.length - 1] : null;
    const title = ticket.subject || firstLine(ticket.message) || "(empty message)";
    const selected = ticket.id === app.ticketId;
    const open = h(
      "button",
      {
        type: "button",
        class: "link ticket-open",
        "aria-current": selected ? "true" : null,
        dataset: { ticketId: ticket.id },
        on: { click: () => openTicket(ticket.id) },
      },
      title,
    );
    const overdue = ticket.sla_due_at && new Date(ticket.sla_due_at) < new Date() && !(latest && latest.state === "sent");
    body.append(
      h(
        "tr",
        { class: selected ? "selected" : null, dataset: { ticketId: ticket.id } },
        h("td", { class: "ticket-cell" }, open, h("div", { class: "muted small" }, formatTime(ticket.received_at))),
        h("td", {}, ticket.language || "—"),
        h("td", {}, humanize(ticket.intent) || "—"),
        h("td", {}, ticket.urgency ? badge("urgency", ticket.urgency, KNOWN_URGENCY) : "—"),
        h("td", { class: overdue ? "overdue" : null }, timeEl(ticket.sla_due_at), overdue ? h("span", { class: "visually-hidden" }, " (overdue)") : null),
        h("td", { class: "draft-state" }, latest ? badge("state", latest.state, KNOWN_STATES) : h("span", { class: "muted" }, "no draft")),
      ),
    );
  }
}

// ------------------------------------------------------------------ ticket detail

async function openTicket(ticketId, { focus = true } = {}) {
  app.ticketId = ticketId;
  const request = ++app.detailRequest;
  history.replaceState(null, "", `#ticket=${encodeURIComponent(ticketId)}`);
  for (const row of $("tickets-body").querySelectorAll("tr")) {
    const selected = row.dataset.ticketId === ticketId;
    row.classList.toggle("selected", selected);
    const button = row.querySelector("button");
    if (selected) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  const detail = $("detail-body");
  $("detail-title").textContent = "Loading…";
  clear(detail);
  let ticket;
  let drafts;
  try {
    ticket = await api("GET", `/v1/tickets/${encodeURIComponent(ticketId)}`);
    const newestFirst = [...ticket.drafts].reverse();
    drafts = await Promise.all(newestFirst.map((d) => api("GET", `/v1/drafts/${encodeURIComponent(d.id)}`)));
  } catch (error) {
    if (request !== app.detailRequest) return;
    $("detail-title").textContent = "Could not load the ticket";
    detail.append(h("p", { class: "banner error", role: "alert" }, explain(error)));
    return;
  }
  if (request !== app.detailRequest) return;
  renderTicket(ticket, drafts);
  if (focus) $("detail-title").focus();
}

function renderTicket(ticket, drafts) {
  $("detail-title").textContent = ticket.subject || firstLine(ticket.message, 120) || "(no subject)";
  const detail = $("detail-body");
  clear(detail);

  const customer = ticket.customer || {};
  const order = ticket.order || {};
  detail.append(
    h(
      "dl",
      { class: "meta" },
      metaItem("Received", timeEl(ticket.received_at)),
      metaItem("Channel", humanize(ticket.channel)),
      ticket.external_id ? metaItem("Helpdesk id", ticket.external_id) : null,
      customer.name || customer.tier ? metaItem("Customer", [customer.name || "", customer.tier ? ` (${customer.tier})` : ""].join("")) : null,
      order.id ? metaItem("Order", `${order.id}${order.status ? ` — ${humanize(order.status)}` : ""}`) : null,
      order.seller && (order.seller.name || order.seller.id) ? metaItem("Seller", order.seller.name || order.seller.id) : null,
    ),
    h("h3", {}, "Buyer's message"),
    h("div", { id: "ticket-message", class: "message", lang: ticket.language && ticket.language !== "und" ? ticket.language : null }, ticket.message),
  );

  if (ticket.history && ticket.history.length) {
    detail.append(
      h(
        "details",
        { class: "history" },
        h("summary", {}, `Earlier messages (${ticket.history.length})`),
        h("ol", {}, ticket.history.map((m) => h("li", {}, h("strong", {}, `${humanize(m.role || "buyer")}: `), h("span", { class: "message-inline" }, m.text || "")))),
      ),
    );
  }

  detail.append(renderTriage(ticket.triage, ticket));

  detail.append(h("h3", { id: "drafts-title" }, `Drafts (${drafts.length})`));
  if (!drafts.length) {
    detail.append(h("p", { class: "muted" }, "No draft yet."), regenerateForm(ticket.id, null, "Draft a reply"));
  }
  const list = h("div", { class: "drafts" });
  drafts.forEach((draft, index) => list.append(renderDraft(draft, ticket, drafts.length - index)));
  detail.append(list);
}

function metaItem(term, value) {
  return h("div", { class: "meta-item" }, h("dt", {}, term), h("dd", {}, value));
}

function renderTriage(triage, ticket) {
  const section = h("section", { class: "triage", "aria-labelledby": "triage-title" }, h("h3", { id: "triage-title" }, "Triage"));
  if (!triage) {
    section.append(h("p", { class: "muted" }, "This ticket has not been triaged."));
    return section;
  }
  const intent = triage.intent || {};
  const urgency = triage.urgency || {};
  const sentiment = triage.sentiment || {};
  const escalation = triage.escalation || { flags: [] };
  const party = triage.responsible_party || {};
  const queue = triage.queue || {};
  const language = triage.language || {};
  const alternatives = (intent.alternatives || []).filter((a) => a.label !== intent.label).slice(0, 3);

  const flags = h("ul", { class: "flags" }, (escalation.flags || []).map((f) =>
    h("li", {}, h("strong", {}, humanize(f.flag)), " — ", h("q", {}, f.evidence || ""), h("span", { class: "muted" }, ` ${percent(f.confidence)}`))));

  section.append(
    h(
      "dl",
      { class: "triage-grid" },
      metaItem("Intent", [
        h("strong", {}, humanize(intent.label)),
        ` ${percent(intent.confidence)}`,
        alternatives.length ? h("div", { class: "muted small" }, `also: ${alternatives.map((a) => `${humanize(a.label)} ${percent(a.confidence)}`).join(", ")}`) : null,
      ]),
      metaItem("Urgency", [badge("urgency", urgency.level, KNOWN_URGENCY), " SLA due ", timeEl(urgency.sla_due_at || ticket.sla_due_at, { relative: true })]),
      metaItem("Sentiment", `${humanize(sentiment.label)}${typeof sentiment.score === "number" ? ` (${sentiment.score.toFixed(2)})` : ""}`),
      metaItem("Language", `${language.code || ticket.language || "—"} ${percent(language.confidence)}`),
      metaItem("Escalation", [escalation.escalate ? h("strong", { class: "escalate" }, "Escalate") : "No", escalation.flags && escalation.flags.length ? flags : null]),
      metaItem("Responsible party", `${humanize(party.party)} ${percent(party.confidence)}`),
      metaItem("Queue", humanize(queue.name)),
    ),
  );

  const reasons = [
    ["Intent", intent.reasons], ["Urgency", urgency.reasons], ["Sentiment", sentiment.reasons], ["Language", language.reasons],
    ["Escalation", escalation.reasons], ["Responsible party", party.reasons], ["Queue", queue.reasons],
  ].filter(([, r]) => r && r.length);
  if (reasons.length) {
    section.append(
      h("details", { class: "reasons" }, h("summary", {}, "Why (triage reasons)"),
        h("dl", {}, reasons.map(([name, list]) => [h("dt", {}, name), h("dd", {}, h("ul", {}, list.map((r) => h("li", {}, r))))]))),
    );
  }
  if (triage.model_version) section.append(h("p", { class: "muted small" }, `Model ${triage.model_version}`));
  return section;
}

// ------------------------------------------------------------------ drafts

function renderDraft(draft, ticket, number) {
  const titleId = nextId("draft-title");
  const bodyId = nextId("draft-body");
  const alertBox = h("div", { class: "draft-alert", role: "alert" });
  const card = h("article", {
    class: "draft",
    "aria-labelledby": titleId,
    dataset: { draftId: draft.id, state: draft.state, version: String(draft.version), number: String(number) },
  });

  const reviewable = draft.state === REVIEWABLE;
  const shownBody = draft.final_body ?? draft.body;
  const rows = Math.min(24, Math.max(8, shownBody.split("\n").length + Math.ceil(shownBody.length / 110)));
  const textarea = h("textarea", { id: bodyId, class: "draft-body", rows, spellcheck: "true", lang: draft.language || null, readonly: !reviewable });
  textarea.value = shownBody;

  const header = h(
    "header",
    { class: "draft-head" },
    h("h4", { id: titleId, tabindex: "-1" }, `Draft ${number} `, badge("state", draft.state, KNOWN_STATES)),
    h("span", { class: "muted small" }, `version ${draft.version} · ${formatTime(draft.created_at)}`),
  );

  const provenance = h(
    "dl",
    { class: "meta provenance" },
    metaItem("Generator", draft.generator),
    metaItem("Prompt", `${draft.prompt.id}@${draft.prompt.version}`),
    metaItem("Language", draft.language),
    draft.instructions && draft.instructions.length ? metaItem("Instructions", draft.instructions.join("; ")) : null,
    draft.tokens && draft.tokens.prompt + draft.tokens.completion > 0 ? metaItem("Tokens", `${draft.tokens.prompt} + ${draft.tokens.completion} ($${draft.tokens.cost_usd.toFixed(4)})`) : null,
  );

  card.append(header, provenance);
  if (draft.fallback_reason) {
    card.append(h("p", { class: "banner warning fallback" }, h("strong", {}, "Fallback: "), draft.fallback_reason));
  }
  if (draft.notes && draft.notes.length) card.append(h("ul", { class: "notes muted small" }, draft.notes.map((n) => h("li", {}, n))));

  card.append(
    h("div", { class: "field" }, h("label", { for: bodyId }, reviewable ? "Reply to the buyer (you can edit it)" : "Reply to the buyer"), textarea),
  );
  if (draft.state === "edited" && draft.final_body !== null && draft.final_body !== draft.body) {
    card.append(h("details", {}, h("summary", {}, "Original suggestion"), h("div", { class: "message" }, draft.body)));
  }
  if (draft.translation) {
    card.append(
      h("details", { class: "translation", open: true },
        h("summary", {}, `Translation for you (${draft.translation.language}, ${draft.translation.generator})`),
        h("div", { class: "message", lang: draft.translation.language }, draft.translation.body)),
    );
  }

  card.append(renderCitations(draft), renderFacts(draft.facts), renderFindings(draft.findings), renderOutcome(draft));
  card.append(alertBox, renderActions(draft, ticket, textarea, alertBox, card), renderAudit(draft));
  return card;
}

function renderCitations(draft) {
  const passages = new Map((draft.passages || []).map((p) => [p.chunk_id, p]));
  const section = h("section", { class: "citations" }, h("h5", {}, `Citations (${draft.citations.length})`));
  if (!draft.citations.length) {
    section.append(h("p", { class: "muted" }, "No sentence cites a passage."));
    return section;
  }
  section.append(
    h("ol", {}, draft.citations.map((c) => {
      const passage = passages.get(c.chunk_id);
      return h(
        "li",
        { class: "citation" },
        h("q", { class: "cited-sentence" }, c.sentence),
        h("span", { "aria-hidden": "true" }, " → "),
        h("span", { class: "visually-hidden" }, " cites "),
        h("span", { class: "doc-title" }, c.title),
        " ",
        h("code", { class: "anchor" }, `#${c.anchor}`),
        passage
          ? h("details", { class: "passage" }, h("summary", {}, "Show passage"),
            h("div", { class: "muted small" }, `${(passage.heading_path || []).join(" › ")} · ${passage.document_id} v${passage.version} · ${passage.locale}`),
            h("div", { class: "message passage-text" }, passage.text))
          : null,
      );
    })),
  );
  return section;
}

function factValue(value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Facts are {key: {value, source, explanation}}; anything else is shown as a bare value. */
function renderFacts(facts) {
  const entries = Object.entries(facts || {});
  if (!entries.length) {
    return h("section", { class: "facts" }, h("h5", {}, "Computed facts used"), h("p", { class: "muted" }, "None."));
  }
  const rows = entries.map(([key, fact]) => {
    const described = fact !== null && typeof fact === "object" && "value" in fact;
    return h("tr", {},
      h("th", { scope: "row" }, humanize(key)),
      h("td", {}, factValue(described ? fact.value : fact)),
      h("td", { class: "muted" }, described ? fact.explanation || "" : ""),
      h("td", {}, described ? h("code", {}, fact.source || "") : ""));
  });
  return h("section", { class: "facts" },
    h("details", {},
      h("summary", {}, h("h5", { class: "inline-heading" }, `Computed facts used (${entries.length})`)),
      h("div", { class: "table-wrap" },
        h("table", { class: "facts-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Fact"), h("th", { scope: "col" }, "Value"),
            h("th", { scope: "col" }, "Why"), h("th", { scope: "col" }, "Source"))),
          h("tbody", {}, rows)))));
}

function renderFindings(findings) {
  const section = h("section", { class: "findings" }, h("h5", {}, "Guardrail findings"));
  if (!findings || !findings.length) {
    section.append(h("p", { class: "muted" }, "No findings."));
    return section;
  }
  section.append(
    h("ul", {}, findings.map((f) => h("li", {}, badge("severity", f.severity, KNOWN_SEVERITY), " ", h("strong", {}, humanize(f.check)), `: ${f.message}`,
      f.sentence ? h("div", { class: "muted small" }, h("q", {}, f.sentence)) : null))),
  );
  return section;
}

function renderOutcome(draft) {
  const items = [];
  if (draft.reviewed_by) items.push(metaItem("Reviewed", `${draft.reviewed_by} · ${formatTime(draft.reviewed_at)}`));
  if (draft.edit_distance !== null && draft.edit_distance !== undefined) items.push(metaItem("Edit distance", draft.edit_distance.toFixed(3)));
  if (draft.reject_reason) items.push(metaItem("Rejected because", humanize(draft.reject_reason)));
  if (draft.reject_comment) items.push(metaItem("Comment", draft.reject_comment));
  if (draft.sent_at) items.push(metaItem("Sent", formatTime(draft.sent_at)));
  return items.length ? h("dl", { class: "meta outcome" }, items) : h("span", { hidden: true });
}

function splitInstructions(text) {
  return text.split(/[;\n]/).map((s) => s.trim()).filter(Boolean).slice(0, 10);
}

function regenerateForm(ticketId, draft, label, alertBox) {
  const inputId = nextId("instructions");
  const translateId = nextId("translate");
  const input = h("input", { id: inputId, type: "text", maxlength: "300", placeholder: "e.g. shorter; more formal; offer a replacement" });
  const translate = h("input", { id: translateId, type: "checkbox", checked: Boolean(draft && draft.translation) });
  const button = h("button", { type: "submit", class: "secondary" }, label);
  const box = alertBox || h("div", { class: "draft-alert", role: "alert" });
  const form = h(
    "form",
    { class: "regenerate" },
    h("div", { class: "field" }, h("label", { for: inputId }, "Instructions for a new draft (separate several with ;)"), input),
    h("div", { class: "checkbox" }, translate, h("label", { for: translateId }, "Translate the draft for me")),
    button,
    alertBox ? null : box,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { instructions: splitInstructions(input.value), translate_for_agent: translate.checked };
    await runAction(form, box, async () => {
      announce("Generating a new draft…");
      // The regenerate route does not check versions; If-Match still says which draft the agent saw.
      await api("POST", `/v1/tickets/${encodeURIComponent(ticketId)}/drafts`, { body, version: draft ? draft.version : undefined });
      announce("New draft generated.");
      await Promise.all([openTicket(ticketId, { focus: false }), loadTickets()]);
      const first = document.querySelector("#detail-body article.draft h4");
      if (first) first.focus();
    });
  });
  return form;
}

/** Disable the controls of `scope` while `work` runs; show a failure in `box`. */
async function runAction(scope, box, work) {
  const controls = [...scope.querySelectorAll("button, input, select, textarea")].filter((c) => !c.disabled);
  for (const c of controls) c.disabled = true;
  scope.setAttribute("aria-busy", "true");
  clear(box);
  try {
    await work();
  } catch (error) {
    box.append(h("p", { class: error.status === 409 ? "banner conflict" : "banner error" }, explain(error)));
    if (error.status === 409) {
      box.append(h("button", { type: "button", class: "secondary reload", on: { click: () => openTicket(app.ticketId) } }, "Reload ticket"));
    }
  } finally {
    for (const c of controls) if (c.isConnected) c.disabled = false;
    scope.removeAttribute("aria-busy");
  }
}

function renderActions(draft, ticket, textarea, alertBox, card) {
  const wrap = h("div", { class: "actions" });

  const review = async (action, body, message) => {
    await runAction(card, alertBox, async () => {
      const updated = await api("POST", `/v1/drafts/${encodeURIComponent(draft.id)}/${action}`, { body, version: draft.version });
      const replacement = renderDraft(updated, ticket, Number(card.dataset.number));
      card.replaceWith(replacement);
      announce(message);
      replacement.querySelector("h4").focus();
      loadTickets();
    });
  };

  if (draft.state === REVIEWABLE) {
    const approve = h("button", { type: "button", class: "approve", on: { click: () => review("approve", {}, "Draft approved.") } }, "Approve");
    const edit = h("button", {
      type: "button",
      class: "edit",
      on: {
        click: () => {
          const text = textarea.value;
          if (!text.trim()) {
            clear(alertBox);
            alertBox.append(h("p", { class: "banner error" }, "The reply cannot be empty."));
            textarea.focus();
            return;
          }
          review("edit", { body: text }, "Edit saved and approved.");
        },
      },
    }, "Save edit & approve");

    const reasonId = nextId("reason");
    const commentId = nextId("comment");
    const reason = h("select", { id: reasonId, required: true },
      h("option", { value: "" }, "Choose a reason…"),
      app.vocabulary.reject_reasons.map((r) => h("option", { value: r }, humanize(r))));
    const comment = h("textarea", { id: commentId, rows: "2", maxlength: "2000" });
    const reject = h("form", { class: "reject" },
      h("fieldset", {},
        h("legend", {}, "Reject"),
        h("div", { class: "field" }, h("label", { for: reasonId }, "Reason"), reason),
        h("div", { class: "field" }, h("label", { for: commentId }, "Comment (optional)"), comment),
        h("button", { type: "submit", class: "danger" }, "Reject")));
    reject.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!reason.value) {
        reason.focus();
        return;
      }
      const body = { reason: reason.value };
      if (comment.value.trim()) body.comment = comment.value.trim();
      review("reject", body, "Draft rejected.");
    });
    wrap.append(h("div", { class: "button-row" }, approve, edit), reject);
  } else if (SENDABLE.has(draft.state)) {
    wrap.append(h("div", { class: "button-row" },
      h("button", { type: "button", class: "approve", on: { click: () => review("sent", {}, "Marked as sent.") } }, "Mark sent")));
  }
  wrap.append(regenerateForm(ticket.id, draft, "Regenerate", alertBox));
  return wrap;
}

function renderAudit(draft) {
  const list = h("ol", { class: "audit" });
  const details = h("details", { class: "audit-trail" }, h("summary", {}, "Audit trail"), list);
  details.addEventListener("toggle", async () => {
    if (!details.open) return;
    clear(list);
    list.append(h("li", { class: "muted" }, "Loading…"));
    try {
      const events = await api("GET", `/v1/drafts/${encodeURIComponent(draft.id)}/audit`);
      clear(list);
      for (const e of events) {
        list.append(h("li", {},
          h("strong", {}, e.action), ` ${e.from_state || "—"} → ${e.to_state} · v${e.draft_version} · ${e.actor} · ${formatTime(e.at)}`,
          e.reason ? ` · ${humanize(e.reason)}` : "",
          e.comment ? h("div", { class: "muted small" }, e.comment) : null,
          e.diff ? h("details", {}, h("summary", {}, "Diff"), h("pre", { class: "diff" }, e.diff)) : null));
      }
    } catch (error) {
      clear(list);
      list.append(h("li", { class: "banner error" }, explain(error)));
    }
  });
  return details;
}

// ------------------------------------------------------------------ start

function ticketFromHash() {
  const match = /^#ticket=(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

async function start() {
  $("key-form").addEventListener("submit", onSignIn);
  $("sign-out").addEventListener("click", () => {
    history.replaceState(null, "", location.pathname);
    signOut("");
    announce("Signed out.");
  });
  $("intent-filter").addEventListener("change", () => loadTickets());
  $("refresh").addEventListener("click", async () => {
    if (await loadTickets()) announce("Ticket list refreshed.");
  });
  await loadVocabulary();
  if (!apiKey()) {
    signOut("");
    return;
  }
  showSignedIn();
  if (await loadTickets()) {
    const wanted = ticketFromHash();
    if (wanted) openTicket(wanted);
  }
}

document.addEventListener("DOMContentLoaded", start);
