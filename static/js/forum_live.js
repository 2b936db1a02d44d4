// Live replies on a forum topic page. The page's #forum-replies carries `data-forum-post="<topic id>"`;
// this opens /ws/ (the session cookie signs it in), sends `forum:watch`, and shows each `forum:reply`
// (appended on the topic's last page only: `data-live-append`) and each `forum:reply_updated` (an edit,
// a solution, a removal) in place. Protocol: docs/realtime.md.
//
// Safety: the server's `content_html` is rendered and sanitised (nh3) by community.markup, the same
// HTML the page prints; it is parsed into a detached <template>, never assigned to the live page as a
// string. Names and other plain text go in through textContent only.
(function () {
  "use strict";

  const list = document.getElementById("forum-replies");
  if (!list || !("WebSocket" in window)) return;
  const postId = list.getAttribute("data-forum-post");
  const append = list.getAttribute("data-live-append") === "true";
  let known = Number(list.getAttribute("data-reply-count")) || 0; // replies the page has been told about
  let delay = 1000;
  let stopped = false;

  function render(reply) {
    const item = document.createElement("article");
    item.className = "forum-reply" + (reply.is_solution ? " solution" : "") + (reply.deleted ? " deleted" : "");
    item.id = "reply-" + reply.id;
    if (reply.deleted) {
      const gone = document.createElement("p");
      gone.className = "muted";
      gone.textContent = "This reply was deleted.";
      item.append(gone);
      return item;
    }
    const meta = document.createElement("header");
    meta.className = "muted forum-topic-meta";
    if (reply.author) {
      const who = document.createElement("a");
      who.href = "/u/" + encodeURIComponent(reply.author.username) + "/";
      who.textContent = "@" + reply.author.username;
      meta.append(who);
    } else {
      meta.append("deleted user");
    }
    const link = document.createElement("a");
    link.href = "#reply-" + reply.id;
    const when = document.createElement("time");
    when.dateTime = reply.created_at;
    when.textContent = new Date(reply.created_at).toLocaleString();
    link.append(when);
    meta.append(" · ", link);
    if (reply.edited_at) {
      const edited = document.createElement("span");
      edited.className = "edited";
      edited.textContent = "edited";
      meta.append(" · ", edited);
    }
    if (reply.is_solution) {
      const badge = document.createElement("span");
      badge.className = "badge badge-solved";
      badge.textContent = "✓ Solution";
      meta.append(" ", badge);
    }
    const body = document.createElement("div");
    body.className = "forum-body";
    const template = document.createElement("template");
    template.innerHTML = typeof reply.content_html === "string" ? reply.content_html : "";
    body.append(template.content);
    item.append(meta, body);
    return item;
  }

  function show(reply, isNew) {
    const existing = document.getElementById("reply-" + reply.id);
    if (existing) {
      // An update: keep what the page drew around it (reaction and solution forms) unless it is now gone.
      const fresh = render(reply);
      if (reply.deleted) existing.replaceWith(fresh);
      else {
        existing.className = fresh.className;
        existing.querySelector(".forum-topic-meta").replaceWith(fresh.querySelector(".forum-topic-meta"));
        existing.querySelector(".forum-body").replaceWith(fresh.querySelector(".forum-body"));
      }
    } else if (isNew && append) {
      const empty = document.getElementById("forum-no-replies");
      if (empty) empty.remove();
      known += 1;
      list.append(render(reply));
      list.dispatchEvent(new CustomEvent("forum:reply", { detail: reply }));
    }
  }

  function missed(count) {
    let notice = document.getElementById("forum-missed");
    if (!notice) {
      notice = document.createElement("p");
      notice.id = "forum-missed";
      notice.className = "forum-locked";
      notice.setAttribute("role", "status");
      list.after(notice);
    }
    const reload = document.createElement("a");
    reload.href = location.pathname + location.search;
    reload.textContent = count + (count === 1 ? " new reply" : " new replies") + " — reload to see them";
    notice.replaceChildren(reload);
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws/");
    const ping = setInterval(function () { // keeps proxies from closing an idle socket
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
    }, 25000);
    ws.addEventListener("open", function () {
      delay = 1000;
      ws.send(JSON.stringify({ type: "forum:watch", post: postId }));
    });
    ws.addEventListener("message", function (event) {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (frame.type === "forum:watching" && frame.post === postId) {
        list.dataset.live = "on";
        // Replies sent while this socket was down are not replayed: offer a reload rather than a gap.
        if (frame.reply_count > known) missed(frame.reply_count - known);
      }
      if (frame.post !== postId) return;
      if (frame.type === "forum:reply") show(frame.reply, true);
      else if (frame.type === "forum:reply_updated") show(frame.reply, false);
      else if (frame.type === "forum:removed") { stopped = true; ws.close(1000); }
    });
    ws.addEventListener("close", function (event) {
      clearInterval(ping);
      list.dataset.live = "off";
      // 4401: not signed in (or signed out); 4403: refused; stopped: access to the topic ended.
      if (stopped || event.code === 4401 || event.code === 4403) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  connect();
})();
