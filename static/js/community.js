// Agentwise community chat. Plain ES module, no build step. Protocol: docs/realtime.md.
// User content is only ever inserted with textContent, never as HTML.

const config = JSON.parse(document.getElementById("community-config").textContent);
const $ = (id) => document.getElementById(id);
const REACTIONS = ["👍", "❤️", "😂", "🎉", "👀", "🚀"];

const state = {
  channels: new Map(),      // id -> channel (with unread)
  current: null,            // channel id
  messages: new Map(),      // channel id -> Map(message id -> message)
  lastSeq: new Map(),       // channel id -> highest seq seen (top-level and replies)
  newestId: new Map(),      // channel id -> id of the newest top-level message we have
  hasOlder: new Map(),      // channel id -> bool
  online: new Map(),        // channel id -> Map(user id -> user)
  typing: new Map(),        // channel id -> Map(user id -> {user, timer})
  pending: new Map(),       // client_id -> element
  thread: null,             // root message id of the open thread
  ws: null,
  retry: 0,
  everConnected: false,
  lastTypingSent: 0,
};

// --- REST -----------------------------------------------------------------------------------

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(path, { method = "GET", body } = {}) {
  const response = await fetch(path.startsWith("/") ? path : config.api + path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const error = await response.json().catch(() => ({}));
    throw new Error(error.error?.message || `HTTP ${response.status}`);
  }
  return response.status === 204 ? null : response.json();
}

// --- rendering --------------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderChannels() {
  const list = $("channel-list");
  list.replaceChildren();
  const groups = new Map();
  for (const channel of state.channels.values()) {
    const key = channel.category || "Channels";
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(channel);
  }
  for (const [category, channels] of groups) {
    list.append(el("h3", "channel-category", category));
    for (const channel of channels) {
      const link = el("a", "channel-link");
      link.href = `#${channel.id}`;
      link.dataset.channel = channel.id;
      if (channel.id === state.current) link.setAttribute("aria-current", "page");
      if (channel.state === "archived") link.classList.add("archived");
      link.append(el("span", "channel-name", `${channel.is_private ? "🔒" : "#"} ${channel.name}`));
      if (channel.is_locked || channel.state === "read_only") link.append(el("span", "muted", " 📣"));
      if (channel.unread > 0 && channel.id !== state.current) link.append(el("span", "unread-badge", String(channel.unread)));
      link.addEventListener("click", (event) => { event.preventDefault(); selectChannel(channel.id); });
      list.append(link);
    }
  }
}

// A display name is chosen freely, so the unique @handle is always shown beside it, and staff carry a
// badge only the server can grant: nobody passes as "Mo Derator".
function authorLabel(user) {
  const label = el("span", "author");
  if (!user) { label.append(el("strong", "", "deleted user")); return label; }
  label.append(el("strong", "", user.display_name || user.username));
  label.append(" ", el("span", "muted handle", `@${user.username}`));
  if (user.is_staff) label.append(" ", el("span", "badge badge-staff", "staff"));
  return label;
}

function renderOnline() {
  const users = [...(state.online.get(state.current)?.values() || [])].sort((a, b) => (a.username || "").localeCompare(b.username || ""));
  $("online-count").textContent = `(${users.length})`;
  $("online-list").replaceChildren(...users.map((u) => {
    const item = el("li", "online-user");
    item.append(authorLabel(u));
    return item;
  }));
}

// What I may do with a message: the REST API sends per-message flags; messages that arrive live use
// the channel's flags (computed by the same server rules), never a rule re-derived here.
function allowed(message, action) {
  if (message[`can_${action}`] !== undefined) return message[`can_${action}`];
  const can = state.channels.get(message.channel) || {};
  if (action === "react") return Boolean(can.can_react);
  const mine = message.user && message.user.id === config.me.id;
  return Boolean(mine ? can[`can_${action}_own`] : can[`can_${action}_any`]);
}

function renderTyping() {
  const names = [...(state.typing.get(state.current)?.values() || [])].map((t) => t.user.display_name || t.user.username);
  $("typing").textContent = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
}

function messageElement(message, { inThread = false } = {}) {
  const item = el("article", "chat-message");
  item.dataset.id = message.id;
  item.dataset.seq = message.seq;
  const head = el("header", "chat-message-head");
  head.append(authorLabel(message.user));
  const time = el("time", "muted", new Date(message.created_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  time.dateTime = message.created_at;
  head.append(" ", time);
  if (message.edited_at && !message.deleted) {
    const edited = el("button", "link muted edited", "(edited)");
    edited.type = "button";
    edited.title = "Show earlier versions";
    edited.addEventListener("click", () => showHistory(message, item));
    head.append(" ", edited);
  }
  item.append(head);
  if (message.deleted) {
    item.append(el("p", "muted deleted", "message deleted"));
  } else if (message.content_type === "code") {
    const pre = el("pre", "code-block");
    pre.append(el("code", "", message.content));
    item.append(pre);
  } else {
    item.append(el("p", "chat-text", message.content));
  }
  for (const file of message.attachments || []) {
    const link = el("a", "attachment", `📎 ${file.name}`);
    link.href = file.url;
    link.target = "_blank";
    link.rel = "noopener";
    item.append(link);
  }
  if (!message.deleted && allowed(message, "react")) item.append(reactionBar(message));
  const actions = el("div", "chat-actions");
  if (!inThread && !message.parent) {
    const reply = el("button", "link", message.reply_count ? `💬 ${message.reply_count} replies` : "Reply");
    reply.type = "button";
    reply.addEventListener("click", () => openThread(message.id));
    actions.append(reply);
  }
  if (!message.deleted && message.seq && allowed(message, "edit")) {
    const edit = el("button", "link", "Edit");
    edit.type = "button";
    edit.addEventListener("click", () => editMessage(message));
    actions.append(edit);
  }
  if (!message.deleted && message.seq && allowed(message, "delete")) {
    const remove = el("button", "link", "Delete");
    remove.type = "button";
    remove.addEventListener("click", () => { if (confirm("Delete this message?")) send({ type: "message:delete", id: message.id }); });
    actions.append(remove);
  }
  if (!message.deleted && message.seq && message.user && message.user.id !== config.me.id) {
    const report = el("button", "link", "Report");
    report.type = "button";
    report.addEventListener("click", () => {
      const reason = prompt("Why are you reporting this message? (moderators see it)");
      if (reason && reason.trim()) send({ type: "report", content_type: "message", content_id: message.id, reason: reason.trim() });
    });
    actions.append(report);
  }
  item.append(actions);
  return item;
}

function reactionBar(message) {
  const bar = el("div", "reactions");
  for (const [emoji, info] of Object.entries(message.reactions || {})) {
    if (!info.count) continue;
    const button = el("button", `reaction${info.me ? " me" : ""}`, `${emoji} ${info.count}`);
    button.type = "button";
    button.setAttribute("aria-pressed", info.me ? "true" : "false");
    button.addEventListener("click", () => send({ type: "reaction:toggle", message: message.id, emoji }));
    bar.append(button);
  }
  const picker = el("details", "reaction-picker");
  picker.append(el("summary", "", "☺+"));
  for (const emoji of REACTIONS) {
    const button = el("button", "reaction-choice", emoji);
    button.type = "button";
    button.addEventListener("click", () => { picker.open = false; send({ type: "reaction:toggle", message: message.id, emoji }); });
    picker.append(button);
  }
  bar.append(picker);
  return bar;
}

function sortedMessages(channelId) {
  return [...(state.messages.get(channelId)?.values() || [])].filter((m) => !m.parent).sort((a, b) => a.seq - b.seq);
}

function isForum(channelId) {
  return state.channels.get(channelId)?.type === "forum";
}

// A forum channel is not a chat: it lists its topics (the forum API, newest activity first), each linking
// to its page on /forum/, where people read and reply.
async function renderForum(channel) {
  const box = $("messages");
  box.replaceChildren(el("p", "muted", "Loading topics…"));
  const params = new URLSearchParams({ channel: channel.id, page_size: "50" });
  const page = await api(`${config.forum_api}?${params}`);
  if (state.current !== channel.id) return;
  const list = el("ol", "forum-topic-list");
  for (const post of page.results) {
    const item = el("li", "forum-topic-item");
    const link = el("a", "", post.title);
    link.href = `${config.forum}t/${post.id}/`;  // the topic page redirects to its canonical URL
    item.append(link);
    if (post.is_pinned) item.append(" ", el("span", "badge", "📌 Pinned"));
    if (post.is_solved) item.append(" ", el("span", "badge badge-solved", "✓ Solved"));
    const replies = `${post.reply_count} repl${post.reply_count === 1 ? "y" : "ies"}`;
    item.append(el("div", "muted", `${post.author ? `@${post.author.username}` : "deleted user"} · ${replies} · ${post.view_count} view${post.view_count === 1 ? "" : "s"}`));
    list.append(item);
  }
  const links = el("p", "forum-links");
  const all = el("a", "button button-small button-secondary", page.count > page.results.length ? `All ${page.count} topics` : "Open the forum page");
  all.href = `${config.forum}${channel.id}/`;
  links.append(all);
  if (channel.can_post) {
    const open = el("a", "button button-small", "New topic");
    open.href = `${config.forum}${channel.id}/new/`;
    links.append(" ", open);
  }
  box.replaceChildren(page.results.length ? list : el("p", "muted", "No topics yet."), links);
}

function renderMessages({ keepScroll = false } = {}) {
  if (isForum(state.current)) return;  // its topics are listed by renderForum, not as chat
  const box = $("messages");
  const fromBottom = box.scrollHeight - box.scrollTop;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren();
  if (state.hasOlder.get(state.current)) box.append(el("p", "muted load-older", "Scroll up for older messages"));
  for (const message of sortedMessages(state.current)) box.append(messageElement(message));
  for (const pending of state.pending.values()) if (pending.dataset.channel === state.current && !pending.dataset.parent) box.append(pending);
  if (keepScroll) box.scrollTop = box.scrollHeight - fromBottom;
  else if (atBottom || !box.dataset.scrolled) box.scrollTop = box.scrollHeight;
}

function upsert(message) {
  if (!state.messages.has(message.channel)) state.messages.set(message.channel, new Map());
  state.messages.get(message.channel).set(message.id, message);
  if (message.seq > (state.lastSeq.get(message.channel) || 0)) state.lastSeq.set(message.channel, message.seq);
  if (!message.parent) {
    const newest = state.messages.get(message.channel).get(state.newestId.get(message.channel));
    if (!newest || newest.seq < message.seq) state.newestId.set(message.channel, message.id);
  }
}

// --- channels, history, catch-up --------------------------------------------------------------

async function loadHistory(channelId, { before } = {}) {
  const params = new URLSearchParams({ limit: "50" });
  if (before) params.set("before", before);
  const page = await api(`channels/${channelId}/messages/?${params}`);
  for (const message of page.results) upsert(message);
  state.hasOlder.set(channelId, page.has_more);
}

async function catchUp(channelId) {
  // After a reconnect or a sequence gap: fetch everything after the newest message we hold.
  let after = state.newestId.get(channelId);
  if (!after) return loadHistory(channelId);
  for (let guard = 0; guard < 50; guard += 1) {
    const page = await api(`channels/${channelId}/messages/?after=${after}&limit=100`);
    for (const message of page.results) upsert(message);
    if (!page.has_more || page.results.length === 0) break;
    after = page.results[0].id; // results are newest first
  }
  if (channelId === state.current) renderMessages();
}

function applyComposer(channel) {
  const readOnly = !channel.can_post;
  $("composer-input").disabled = readOnly;
  $("composer-input").placeholder = readOnly ? "This channel is read-only." : "Message — Enter to send, Shift+Enter for a new line";
}

async function selectChannel(channelId) {
  state.current = channelId;
  const channel = state.channels.get(channelId);
  $("channel-title").textContent = `${channel.is_private ? "🔒" : "#"} ${channel.name}`;
  $("channel-description").textContent = channel.description || "";
  applyComposer(channel);
  history.replaceState(null, "", `#${channelId}`);
  $("composer").hidden = isForum(channelId);
  if (isForum(channelId)) {
    await renderForum(channel);
    renderOnline();
    return;
  }
  if (!state.messages.has(channelId)) await loadHistory(channelId);
  delete $("messages").dataset.scrolled;
  renderMessages();
  renderOnline();
  renderTyping();
  markRead(channelId);
}

function markRead(channelId) {
  const channel = state.channels.get(channelId);
  const seq = state.lastSeq.get(channelId) || 0;
  channel.unread = 0;
  renderChannels();
  if (seq > 0) api(`channels/${channelId}/read/`, { method: "POST", body: { seq } }).catch(() => {});
}

async function loadOlder() {
  const channelId = state.current;
  if (!state.hasOlder.get(channelId) || state.loadingOlder) return;
  state.loadingOlder = true;
  try {
    const oldest = sortedMessages(channelId)[0];
    await loadHistory(channelId, { before: oldest?.id });
    renderMessages({ keepScroll: true });
  } finally {
    state.loadingOlder = false;
  }
}

// --- threads ----------------------------------------------------------------------------------

async function openThread(rootId) {
  state.thread = rootId;
  $("thread").hidden = false;
  const page = await api(`messages/${rootId}/thread/`);
  for (const message of page.results) upsert(message);
  renderThread();
}

function renderThread() {
  if (!state.thread) return;
  const all = [...state.messages.values()].flatMap((m) => [...m.values()]);
  const root = all.find((m) => m.id === state.thread);
  const replies = all.filter((m) => m.parent === state.thread).sort((a, b) => a.seq - b.seq);
  const box = $("thread-messages");
  box.replaceChildren(...[root, ...replies].filter(Boolean).map((m) => messageElement(m, { inThread: true })));
  for (const pending of state.pending.values()) if (pending.dataset.parent === state.thread) box.append(pending);
  box.scrollTop = box.scrollHeight;
}

// --- socket -----------------------------------------------------------------------------------

function setStatus(text, kind) {
  const pill = $("status");
  pill.textContent = text;
  pill.className = `pill pill-${kind}`;
}

function send(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify(frame));
    return true;
  }
  showError("Not connected — reconnecting…");
  return false;
}

function showError(text) {
  $("composer-error").textContent = text;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { $("composer-error").textContent = ""; }, 6000);
}

function connect() {
  setStatus(state.everConnected ? "reconnecting…" : "connecting…", "connecting");
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss://" : "ws://"}${location.host}${config.ws}`);
  state.ws = ws;
  ws.addEventListener("open", async () => {
    const reconnect = state.everConnected;
    state.everConnected = true;
    state.retry = 0;
    setStatus("live", "live");
    for (const channelId of state.channels.keys()) ws.send(JSON.stringify({ type: "channel:join", channel: channelId }));
    if (reconnect) for (const channelId of state.messages.keys()) catchUp(channelId).catch(() => {});
  });
  ws.addEventListener("message", (event) => handle(JSON.parse(event.data)));
  ws.addEventListener("close", (event) => {
    if (event.code === 4401) { setStatus("signed out", "down"); return; }
    if (event.code === 4429) { setStatus("disconnected: too many messages", "down"); return; }
    const delay = Math.min(30000, 1000 * 2 ** state.retry) * (0.5 + Math.random() / 2);
    state.retry += 1;
    setStatus("reconnecting…", "connecting");
    setTimeout(connect, delay);
  });
}

function handle(frame) {
  switch (frame.type) {
    case "presence:sync": {
      const channel = state.channels.get(frame.channel);
      if (channel && frame.can) {
        Object.assign(channel, frame.can);  // what I may do here now (it can change while I am away)
        if (frame.channel === state.current) { applyComposer(channel); renderMessages({ keepScroll: true }); }
      }
      state.online.set(frame.channel, new Map(frame.users.map((u) => [u.id, u])));
      if (frame.channel === state.current) renderOnline();
      if (frame.last_seq > (state.lastSeq.get(frame.channel) || 0) && state.messages.has(frame.channel)) catchUp(frame.channel);
      break;
    }
    case "presence:diff": {
      const online = state.online.get(frame.channel) || new Map();
      for (const u of frame.joined) online.set(u.id, u);
      for (const u of frame.left) online.delete(u.id);
      state.online.set(frame.channel, online);
      if (frame.channel === state.current) renderOnline();
      break;
    }
    case "message:new": {
      const message = frame.message;
      const pending = message.client_id && state.pending.get(message.client_id);
      if (pending) { pending.remove(); state.pending.delete(message.client_id); }
      const last = state.lastSeq.get(message.channel) || 0;
      const gap = state.messages.has(message.channel) && message.seq > last + 1;
      const known = state.messages.get(message.channel)?.has(message.id);
      upsert(message);
      if (gap) catchUp(message.channel);
      clearTyping(message.channel, message.user?.id);
      if (message.parent) {
        const root = state.messages.get(message.channel)?.get(message.parent);
        if (root && !known) root.reply_count += 1;
        if (state.thread === message.parent) renderThread();
      }
      if (message.channel === state.current) {
        renderMessages();
        markRead(message.channel);
      } else if (!message.parent && message.user?.id !== config.me.id) {
        const channel = state.channels.get(message.channel);
        if (channel) { channel.unread = (channel.unread || 0) + 1; renderChannels(); }
      }
      break;
    }
    case "message:edited":
    case "message:deleted": {
      const channelMessages = state.messages.get(frame.channel || frame.message?.channel);
      if (frame.type === "message:edited") upsert(frame.message);
      else if (channelMessages?.has(frame.id)) Object.assign(channelMessages.get(frame.id), { deleted: true, content: "", attachments: [] });
      renderMessages({ keepScroll: true });
      renderThread();
      break;
    }
    case "reaction:updated": {
      const message = state.messages.get(frame.channel)?.get(frame.message);
      if (message) {
        const info = message.reactions[frame.emoji] || { count: 0, me: false };
        info.count = frame.count;
        if (frame.user === config.me.id) info.me = frame.added;
        message.reactions[frame.emoji] = info;
        renderMessages({ keepScroll: true });
        renderThread();
      }
      break;
    }
    case "user:typing": {
      if (frame.user.id === config.me.id) break;
      if (frame.typing) {
        const channelTyping = state.typing.get(frame.channel) || new Map();
        clearTimeout(channelTyping.get(frame.user.id)?.timer);
        const timer = setTimeout(() => clearTyping(frame.channel, frame.user.id), (frame.expires_in || 6) * 1000);
        channelTyping.set(frame.user.id, { user: frame.user, timer });
        state.typing.set(frame.channel, channelTyping);
      } else {
        clearTyping(frame.channel, frame.user.id);
      }
      if (frame.channel === state.current) renderTyping();
      break;
    }
    case "channel:removed": {
      // My access ended (removed from a private channel, or it was made private): forget it.
      state.channels.delete(frame.channel);
      state.messages.delete(frame.channel);
      state.online.delete(frame.channel);
      state.typing.delete(frame.channel);
      renderChannels();
      if (state.current === frame.channel) {
        state.current = null;
        $("messages").replaceChildren(el("p", "muted", frame.message || "You no longer have access to this channel."));
        $("composer-input").disabled = true;
        const next = [...state.channels.values()].find((c) => c.state !== "archived");
        if (next) selectChannel(next.id);
      }
      showError(frame.message || "You no longer have access to a channel.");
      break;
    }
    case "ack":
      break; // message:new, which follows, replaces the pending copy
    case "notification":
      showError(`🔔 ${frame.notification.title}`);
      break;
    case "report:ok":
      showError(frame.created ? "Reported: thank you. Moderators will look at it." : "You already reported this; moderators will look at it.");
      break;
    case "error": {
      if (frame.ref && state.pending.has(frame.ref)) {
        const pending = state.pending.get(frame.ref);
        pending.classList.add("failed");
        pending.querySelector(".chat-actions").textContent = `Not sent: ${frame.message}`;
      }
      showError(frame.message);
      break;
    }
    default:
      break;
  }
}

function clearTyping(channelId, userId) {
  const channelTyping = state.typing.get(channelId);
  if (!channelTyping || !channelTyping.has(userId)) return;
  clearTimeout(channelTyping.get(userId).timer);
  channelTyping.delete(userId);
  if (channelId === state.current) renderTyping();
}

// --- composing --------------------------------------------------------------------------------

let clientCounter = 0;

function sendMessage({ content, parent = null, code = false }) {
  const text = content.trim();
  if (!text || !state.current) return false;
  const clientId = `c${Date.now().toString(36)}${(clientCounter += 1)}`;
  const frame = { type: "message:send", channel: state.current, content: text, client_id: clientId };
  if (code) frame.content_type = "code";
  if (parent) frame.parent = parent;
  if (!send(frame)) return false;
  const pending = messageElement({
    id: clientId, seq: 0, channel: state.current, parent, user: config.me, content: text,
    content_type: code ? "code" : "text", created_at: new Date().toISOString(), reactions: {}, attachments: [],
  }, { inThread: Boolean(parent) });
  pending.classList.add("pending");
  pending.dataset.channel = state.current;
  if (parent) pending.dataset.parent = parent;
  state.pending.set(clientId, pending);
  if (parent) renderThread(); else renderMessages();
  send({ type: "typing:stop", channel: state.current });
  state.lastTypingSent = 0;
  return true;
}

function editMessage(message) {
  const next = prompt("Edit message", message.content);
  if (next !== null && next.trim() && next !== message.content) send({ type: "message:edit", id: message.id, content: next });
}

async function showHistory(message, item) {
  const history = await api(`messages/${message.id}/edits/`);
  const list = el("ol", "edit-history");
  for (const version of history.results) list.append(el("li", "", version.content));
  item.append(list);
}

function wireComposer() {
  const input = $("composer-input");
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (sendMessage({ content: input.value, code: $("composer-code").checked })) input.value = "";
    }
  });
  input.addEventListener("input", () => {
    const now = Date.now();
    if (input.value.trim() && now - state.lastTypingSent > 3000 && state.current) {
      state.lastTypingSent = now;
      send({ type: "typing:start", channel: state.current });
    }
  });
  input.addEventListener("blur", () => {
    if (state.lastTypingSent && state.current) send({ type: "typing:stop", channel: state.current });
    state.lastTypingSent = 0;
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    if (sendMessage({ content: input.value, code: $("composer-code").checked })) input.value = "";
  });
  const threadInput = $("thread-input");
  const replyNow = () => { if (sendMessage({ content: threadInput.value, parent: state.thread })) threadInput.value = ""; };
  threadInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); replyNow(); }
  });
  $("thread-composer").addEventListener("submit", (event) => { event.preventDefault(); replyNow(); });
  $("thread-close").addEventListener("click", () => { state.thread = null; $("thread").hidden = true; });
  $("messages").addEventListener("scroll", (event) => {
    event.target.dataset.scrolled = "1";
    if (event.target.scrollTop < 60) loadOlder();
  });
}

async function start() {
  wireComposer();
  const page = await api("channels/?page_size=100");
  for (const channel of page.results) state.channels.set(channel.id, channel);
  renderChannels();
  const wanted = location.hash.slice(1);
  const postable = page.results.find((c) => c.can_post);
  const first = state.channels.has(wanted) ? wanted : (postable || page.results.find((c) => c.state !== "archived"))?.id;
  if (first) await selectChannel(first);
  connect();
}

start().catch((error) => showError(`Could not load the community: ${error.message}`));
