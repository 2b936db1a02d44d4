// Live replies on a forum topic page: on a page with an element `data-forum-post="<topic id>"`, opens
// /ws/ (the session cookie signs it in), sends `forum:watch` and appends each `forum:reply` to
// #forum-replies; `forum:reply_updated` replaces the reply shown. Protocol: docs/realtime.md.
//
// Safety: the server's `content_html` is rendered and sanitised (nh3) by content.blocks.render_markdown,
// the same HTML the page prints; it is parsed into a detached <template>, never into the live page as
// a string. Everything else (names, plain text) goes in through textContent only.
(function () {
  "use strict";

  const holder = document.querySelector("[data-forum-post]");
  const list = document.getElementById("forum-replies");
  if (!holder || !list || !("WebSocket" in window)) return;
  const postId = holder.getAttribute("data-forum-post");
  let delay = 1000;

  function render(reply) {
    const item = document.createElement("article");
    item.className = "forum-reply" + (reply.is_solution ? " is-solution" : "") + (reply.deleted ? " is-deleted" : "");
    item.id = "reply-" + reply.id;
    item.dataset.replyId = reply.id;
    const meta = document.createElement("header");
    meta.className = "forum-reply-meta";
    const who = document.createElement("strong");
    who.textContent = reply.author ? reply.author.display_name + " @" + reply.author.username : "deleted user";
    const when = document.createElement("time");
    when.dateTime = reply.created_at;
    when.textContent = new Date(reply.created_at).toLocaleString();
    meta.append(who, " ", when);
    if (reply.is_solution) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "Solution";
      meta.append(" ", badge);
    }
    const body = document.createElement("div");
    body.className = "forum-reply-body prose";
    if (reply.deleted) {
      body.textContent = "This reply was deleted.";
    } else if (typeof reply.content_html === "string") {
      const template = document.createElement("template");
      template.innerHTML = reply.content_html; // sanitised server-side; parsed inert, then moved in
      body.append(template.content);
    } else {
      body.textContent = reply.content || "";
    }
    item.append(meta, body);
    return item;
  }

  function show(reply, replace) {
    const existing = document.getElementById("reply-" + reply.id);
    if (existing) {
      existing.replaceWith(render(reply));
    } else if (!replace) {
      list.append(render(reply));
      list.dispatchEvent(new CustomEvent("forum:reply", { detail: reply }));
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + location.host + "/ws/");
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
      if (frame.post !== postId) return;
      if (frame.type === "forum:reply") show(frame.reply, false);
      else if (frame.type === "forum:reply_updated") show(frame.reply, true);
      else if (frame.type === "forum:removed") ws.close(1000);
    });
    ws.addEventListener("close", function (event) {
      // 4401: not signed in (or signed out); 1000: we closed it (access lost). Otherwise retry, backing off.
      if (event.code === 4401 || event.code === 1000) return;
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    });
    // Keep proxies from closing an idle socket.
    const ping = setInterval(function () {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
      else if (ws.readyState === WebSocket.CLOSED) clearInterval(ping);
    }, 25000);
  }

  connect();
})();
