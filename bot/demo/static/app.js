// The demo page: a small Block Kit renderer and the Slack-like chrome around it.
//
// Everything shown comes from GET /demo/state (what the bot posted to the fake Slack) and is put
// on the page with textContent and createElement only, never innerHTML: a sync named
// "<img onerror=…>" or "<!channel>" is text here, as the bot escaped it for Slack. Links open only
// for http(s) and mailto URLs. Actions go to POST /demo/*, which sends the bot the signed request
// Slack would. Plain JavaScript, no build step.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const HOME = "home";
  const EMOJI = {
    warning: "\u26a0\ufe0f", rotating_light: "\ud83d\udea8", white_check_mark: "\u2705", x: "\u274c",
    hourglass: "\u231b", hourglass_flowing_sand: "\u23f3", stop_button: "\u23f9\ufe0f", octagonal_sign: "\ud83d\uded1",
    large_green_circle: "\ud83d\udfe2", red_circle: "\ud83d\udd34", bell: "\ud83d\udd14", mute: "\ud83d\udd07",
    arrows_counterclockwise: "\ud83d\udd04", repeat: "\ud83d\udd01", pause_button: "\u23f8\ufe0f",
    arrow_forward: "\u25b6\ufe0f", information_source: "\u2139\ufe0f", tada: "\ud83c\udf89",
  };
  const ui = {
    user: null, view: null, firstChannel: null, shot: null, version: "", users: {}, channels: {},
    openThreads: new Set(), homeSig: "", modalSig: "", pending: null, timer: null,
  };

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // ---- mrkdwn: Slack's markup, to DOM nodes ---------------------------------------------------

  function decode(text) {
    return text.replace(/&(lt|gt|amp);/g, (m, name) => ({ lt: "<", gt: ">", amp: "&" })[name]);
  }

  function mrkdwn(text, parent) {
    const re = /<([^<>\n]+)>/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      inline(decode(text.slice(last, m.index)), parent);
      special(m[1], parent);
      last = re.lastIndex;
    }
    inline(decode(text.slice(last)), parent);
  }

  function special(body, parent) {
    const bar = body.indexOf("|");
    const target = bar < 0 ? body : body.slice(0, bar);
    const label = bar < 0 ? "" : decode(body.slice(bar + 1));
    if (/^@[UW][A-Z0-9]+$/.test(target)) {
      const id = target.slice(1);
      parent.append(el("span", "mention", "@" + (label || (ui.users[id] || {}).name || id)));
    } else if (/^#[CGD][A-Z0-9]+$/.test(target)) {
      const id = target.slice(1);
      parent.append(el("span", "mention", "#" + (label || ui.channels[id] || id)));
    } else if (target.startsWith("!subteam^")) {
      parent.append(el("span", "mention", "@" + (label.replace(/^@/, "") || target.slice(9))));
    } else if (/^!(here|channel|everyone)$/.test(target)) {
      parent.append(el("span", "mention loud", "@" + target.slice(1)));
    } else if (target.startsWith("!date^")) {
      parent.append(document.createTextNode(label || "a date"));
    } else if (/^(https?:\/\/|mailto:)/i.test(target)) {
      const link = el("a", null, label || decode(target));
      link.href = decode(target);
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      parent.append(link);
    } else {
      parent.append(document.createTextNode(label || decode(target)));
    }
  }

  function inline(text, parent) {
    const re = /```([\s\S]+?)```|`([^`\n]+)`|\*([^*\n]+)\*|\b_([^_\n]+)_\b|~([^~\n]+)~|:([a-z0-9_+-]+):|\n/g;
    let last = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
      if (m[1] !== undefined) parent.append(el("pre", null, m[1]));
      else if (m[2] !== undefined) parent.append(el("code", null, m[2]));
      else if (m[3] !== undefined) nested("b", m[3], parent);
      else if (m[4] !== undefined) nested("i", m[4], parent);
      else if (m[5] !== undefined) nested("s", m[5], parent);
      else if (m[6] !== undefined) parent.append(document.createTextNode(EMOJI[m[6]] || m[0]));
      else parent.append(el("br"));
      last = re.lastIndex;
    }
    if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
  }

  function nested(tag, text, parent) {
    const node = el(tag);
    inline(text, node);
    parent.append(node);
  }

  function textObject(obj, parent) {
    if (!obj || typeof obj.text !== "string") return;
    if (obj.type === "mrkdwn") mrkdwn(obj.text, parent);
    else parent.append(document.createTextNode(obj.text.replace(/:([a-z0-9_+-]+):/g, (m, n) => EMOJI[n] || m)));
  }

  // ---- Block Kit ---------------------------------------------------------------------------------

  function blocks(list, where, parent) {
    for (const block of Array.isArray(list) ? list : []) {
      const render = BLOCKS[block && block.type];
      const node = render ? render(block, where) : el("div", "block unsupported", `[${(block && block.type) || "?"} block]`);
      parent.append(node);
    }
  }

  const BLOCKS = {
    section(block, where) {
      const node = el("div", "block section");
      const body = el("div", "body");
      textObject(block.text, body);
      if (Array.isArray(block.fields) && block.fields.length) {
        const fields = el("div", "fields");
        for (const field of block.fields) {
          const cell = el("div", "field");
          textObject(field, cell);
          fields.append(cell);
        }
        body.append(fields);
      }
      node.append(body);
      if (block.accessory) node.append(element(block.accessory, block.block_id, where));
      return node;
    },
    context(block) {
      const node = el("div", "block context");
      for (const item of block.elements || []) {
        const span = el("span");
        if (item.type === "image") span.textContent = `[${item.alt_text || "image"}]`;
        else textObject(item, span);
        node.append(span);
      }
      return node;
    },
    actions(block, where) {
      const node = el("div", "block actions");
      for (const item of block.elements || []) node.append(element(item, block.block_id, where));
      return node;
    },
    divider() {
      return el("hr", "block divider");
    },
    header(block) {
      const node = el("div", "block block-header");
      nested("b", (block.text && block.text.text) || "", node);
      return node;
    },
    image(block) {
      return el("div", "block context", `[image: ${block.alt_text || ""}]`);
    },
    rich_text(block) {
      const node = el("div", "block");
      const walk = (items) => {
        for (const item of items || []) {
          if (item.type === "text") node.append(document.createTextNode(item.text || ""));
          else if (item.type === "link") node.append(document.createTextNode(item.text || item.url || ""));
          else if (item.type === "user") node.append(el("span", "mention", "@" + ((ui.users[item.user_id] || {}).name || item.user_id)));
          else if (item.elements) walk(item.elements);
        }
      };
      walk(block.elements);
      return node;
    },
  };

  function element(item, blockId, where) {
    if (!item || item.type !== "button") return el("span", "unsupported", `[${(item && item.type) || "?"}]`);
    const button = el("button", "btn" + (item.style === "primary" || item.style === "danger" ? " " + item.style : ""));
    button.type = "button";
    textObject(item.text, button);
    button.addEventListener("click", () => {
      if (item.url && /^https?:\/\//i.test(item.url)) window.open(item.url, "_blank", "noopener");
      const click = {
        key: where.key, channel: where.channel, action_id: item.action_id || "", value: item.value || "",
        block_id: blockId || "", text: (item.text && item.text.text) || "", style: item.style || null,
      };
      if (item.confirm) confirmFirst(item.confirm, click);
      else send("/demo/click", click);
    });
    return button;
  }

  function confirmFirst(confirm, click) {
    const dialog = $("confirm");
    $("confirm-title").replaceChildren();
    textObject(confirm.title, $("confirm-title"));
    $("confirm-text").replaceChildren();
    textObject(confirm.text, $("confirm-text"));
    $("confirm-ok").replaceChildren();
    textObject(confirm.confirm || { type: "plain_text", text: "Yes" }, $("confirm-ok"));
    $("confirm-ok").className = "btn " + (confirm.style === "danger" ? "danger" : "primary");
    $("confirm-deny").replaceChildren();
    textObject(confirm.deny || { type: "plain_text", text: "Cancel" }, $("confirm-deny"));
    ui.pending = click;
    dialog.showModal();
  }

  // ---- messages, keyed so an edit replaces one node in place -------------------------------------

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function message(item, channel, withThread) {
    const node = el("div", "msg" + (item.ephemeral ? " ephemeral" : ""));
    node.dataset.key = item.key;
    if (item.ephemeral) node.append(el("span", "only-you", "Only visible to you"));
    const meta = el("div", "meta");
    meta.append(el("span", "author", "Polytomic"), el("span", "app-badge", "APP"), el("span", "time", clock(item.time)));
    if (item.edited) meta.append(el("span", "edited", "(edited)"));
    node.append(meta);
    const content = el("div", "content");
    const where = { key: item.key, channel };
    if (item.blocks && item.blocks.length) blocks(item.blocks, where, content);
    else mrkdwn(item.text || "", content);
    node.append(content);
    if (withThread && item.replies && item.replies.length) {
      const thread = el("div", "thread");
      const open = ui.openThreads.has(item.key);
      const n = item.replies.length;
      const toggle = el("button", "thread-toggle", open ? "Hide replies" : `${n} ${n === 1 ? "reply" : "replies"}`);
      toggle.type = "button";
      toggle.addEventListener("click", () => {
        if (ui.openThreads.has(item.key)) ui.openThreads.delete(item.key);
        else ui.openThreads.add(item.key);
        render(true);
      });
      thread.append(toggle);
      if (open) {
        const replies = el("div", "replies");
        for (const reply of item.replies) replies.append(message(reply, channel, false));
        thread.append(replies);
      }
      node.append(thread);
    }
    return node;
  }

  function renderMessages(items, channel) {
    const box = $("messages");
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const old = new Map([...box.children].map((child) => [child.dataset.key, child]));
    const wanted = [];
    for (const item of items) {
      const sig = JSON.stringify(item) + (ui.openThreads.has(item.key) ? "+" : "");
      const existing = old.get(item.key);
      if (existing && existing.dataset.sig === sig) wanted.push(existing);
      else {
        const node = message(item, channel, true);
        node.dataset.sig = sig;
        wanted.push(node);
      }
    }
    if (!items.length) {
      const empty = el("p", "empty", "Nothing here yet. Type /polytomic help below.");
      empty.dataset.key = "empty";
      wanted.push(empty);
    }
    box.replaceChildren(...wanted);
    if (nearBottom) box.scrollTop = box.scrollHeight;
  }

  function renderHome(view) {
    const sig = JSON.stringify(view);
    if (sig === ui.homeSig) return;
    ui.homeSig = sig;
    const box = $("home");
    box.replaceChildren();
    if (!view) {
      box.append(el("p", "empty", "The bot has published no Home tab for you (views.publish) yet."));
      return;
    }
    blocks(view.blocks, { key: "home|" + view.id, channel: null }, box);
  }

  function renderModal(view) {
    const dialog = $("modal");
    const sig = JSON.stringify(view);
    if (sig === ui.modalSig) return;
    ui.modalSig = sig;
    if (!view) {
      if (dialog.open) dialog.close();
      return;
    }
    $("modal-title").replaceChildren();
    textObject(view.title || { type: "plain_text", text: "Polytomic" }, $("modal-title"));
    $("modal-blocks").replaceChildren();
    blocks(view.blocks, { key: "modal|" + view.id, channel: null }, $("modal-blocks"));
    $("modal-errors").textContent = "";
    $("modal-submit").hidden = !view.submit;
    $("modal-submit").replaceChildren();
    if (view.submit) textObject(view.submit, $("modal-submit"));
    $("modal-close").replaceChildren();
    textObject(view.close || { type: "plain_text", text: "Cancel" }, $("modal-close"));
    $("modal").dataset.viewId = view.id;
    if (!dialog.open) dialog.showModal();
  }

  // ---- the chrome ---------------------------------------------------------------------------------

  function render(force) {
    const shot = ui.shot;
    if (!shot) return;
    const nav = $("channels");
    nav.replaceChildren();
    for (const channel of shot.channel_list) {
      ui.channels[channel.id] = channel.name;
      const li = el("li");
      const button = el("button", "nav-item", (channel.id.startsWith("D") ? "" : "# ") + channel.name);
      button.type = "button";
      button.dataset.channel = channel.id;
      button.setAttribute("aria-current", String(ui.view === channel.id));
      button.addEventListener("click", () => show(channel.id));
      li.append(button);
      nav.append(li);
    }
    $("home-tab").setAttribute("aria-current", String(ui.view === HOME));
    const home = ui.view === HOME;
    $("messages").hidden = home;
    $("home").hidden = !home;
    $("composer").hidden = home;
    const named = ui.channels[ui.view] || ui.view;
    $("title").textContent = home ? "Polytomic · Home" : (ui.view.startsWith("D") ? named : "# " + named);
    if (home) renderHome(shot.home);
    else renderMessages(shot.channels[ui.view] || [], ui.view);
    renderModal(shot.modal);
    if (force) ui.version = shot.version;
  }

  async function poll() {
    clearTimeout(ui.timer);
    try {
      const response = await fetch(`/demo/state?user=${encodeURIComponent(ui.user)}`, { cache: "no-store" });
      const shot = await response.json();
      // A poll sent before the user was switched answers for the previous user: dropped.
      if (response.ok && shot.user === ui.user && shot.version !== ui.version) {
        ui.shot = shot;
        ui.version = shot.version;
        render(false);
      }
    } catch (error) {
      notice("The demo is not answering (stopped?).", true);
    }
    ui.timer = setTimeout(poll, 500);
  }

  function notice(text, error) {
    $("notice").textContent = text || "";
    $("notice").className = error ? "notice error" : "notice";
  }

  async function send(path, data) {
    notice("");
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user: ui.user, ...data }),
      });
      const answer = await response.json();
      if (!response.ok) notice(answer.error || `The demo answered ${response.status}.`, true);
      poll();
      return answer;
    } catch (error) {
      notice("The demo is not answering (stopped?).", true);
      return {};
    }
  }

  function show(view) {
    ui.view = view;
    ui.homeSig = "";
    render(true);
    if (view === HOME) send("/demo/home", {});
  }

  function start(users) {
    const select = $("user");
    for (const user of users) {
      ui.users[user.id] = user;
      const option = el("option", null, user.name);
      option.value = user.id;
      select.append(option);
    }
    ui.user = users[1] ? users[1].id : users[0].id;
    select.value = ui.user;
    $("role").textContent = ui.users[ui.user].role;
    select.addEventListener("change", () => {
      ui.user = select.value;
      $("role").textContent = ui.users[ui.user].role;
      if (ui.view.startsWith("D")) ui.view = ui.firstChannel; // that DM was the other user's
      ui.version = "";
      ui.homeSig = "";
      ui.shot = { ...ui.shot, channels: {}, home: null, modal: null }; // nothing of the last user's
      render(false);
      if (ui.view === HOME) send("/demo/home", {});
      poll();
    });
    $("home-tab").addEventListener("click", () => show(HOME));
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const text = $("command").value.trim();
      if (!text) return;
      $("command").value = "";
      send("/demo/command", { channel: ui.view, text });
    });
    $("fail").addEventListener("click", async () => {
      const answer = await send("/demo/fail", {});
      if (answer.failed) notice(`"${answer.failed}" failed just now: its alert goes to the subscribed channels.`);
    });
    $("confirm-ok").addEventListener("click", () => {
      $("confirm").close();
      if (ui.pending) send("/demo/click", ui.pending);
      ui.pending = null;
    });
    $("confirm-deny").addEventListener("click", () => {
      $("confirm").close();
      ui.pending = null;
    });
    $("modal-submit").addEventListener("click", async () => {
      const answer = await send("/demo/modal", { view_id: $("modal").dataset.viewId, action: "submit" });
      if (answer.errors) $("modal-errors").textContent = Object.values(answer.errors).join(" ");
    });
    $("modal-close").addEventListener("click", () => {
      $("modal").close();
      send("/demo/modal", { view_id: $("modal").dataset.viewId, action: "close" });
    });
  }

  async function boot() {
    const first = await (await fetch("/demo/state?user=UDEMOADMIN", { cache: "no-store" })).json();
    ui.view = ui.firstChannel = first.channel_list[0].id;
    start(first.users);
    poll();
  }

  boot();
})();
