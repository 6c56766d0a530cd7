/*
 * The atendentes' console: one page over the desk API (/desk/api) and the
 * desk WebSocket (/desk/ws). Plain browser JavaScript, no build step.
 *
 * Rules kept throughout:
 * - every text from the server is rendered with textContent (never innerHTML):
 *   customer messages are untrusted input;
 * - nothing about customers is written to the browser console;
 * - the WebSocket carries live updates only: after (re)connecting the page
 *   reloads the state from the API, since the server does not replay missed events.
 */
(function () {
  "use strict";

  var API = "/desk/api";
  var TOKEN_KEY = "desk.token";
  var REFRESH_BEFORE_MS = 5 * 60 * 1000;  // swap the token this long before it expires
  var HEARTBEAT_MS = 30000;
  var PING_MS = 25000;
  var DASHBOARD_MS = 15000;
  var TYPING_IDLE_MS = 3000;
  var BACKOFF_MAX_MS = 30000;

  var STATUS_LABELS = {
    queue: "Na fila", in_progress: "Em atendimento", resolved: "Resolvida", closed: "Encerrada"
  };
  var PRESENCE_LABELS = { online: "Disponível", away: "Ausente", offline: "Offline" };
  var ROLE_LABELS = { atendente: "Atendente", supervisor: "Supervisor(a)", admin: "Administrador(a)" };
  // [short label shown in the badge, accessible name]
  var CHANNELS = {
    whatsapp: ["WA", "WhatsApp"],
    socketio: ["Site", "Chat do site"],
    websocket: ["Web", "Chat web (WebSocket)"],
    rest: ["API", "API de chat"],
    api: ["API", "API de chat"]
  };

  var state = {
    token: null,
    me: null,
    presence: "online",
    queue: [],
    mine: [],
    current: null,        // the open conversation (as the API returns it)
    unread: {},           // conversation id -> true
    outbox: [],           // replies sent over HTTP, to drop their WebSocket echo
    ws: null,
    wsAttempts: 0,
    wsTimer: null,
    pingTimer: null,
    heartbeatTimer: null,
    dashboardTimer: null,
    tickTimer: null,
    refreshTimer: null,
    typingSent: false,
    typingTimer: null,
    othersTypingTimer: null,
    loginLockTimer: null
  };

  // --- DOM helpers -----------------------------------------------------

  function $(id) { return document.getElementById(id); }

  /** An element with text content and attributes; children appended in order. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === "text") { node.textContent = String(value); }
      else if (name === "className") { node.className = value; }
      else { node.setAttribute(name, value === true ? "" : String(value)); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  function show(node, visible) { node.hidden = !visible; }

  function setError(node, message) {
    node.textContent = message || "";
    show(node, Boolean(message));
  }

  var bannerTimer = null;
  function banner(message, kind) {
    var node = $("banner");
    node.textContent = message;
    node.className = "banner " + (kind || "info");
    show(node, true);
    clearTimeout(bannerTimer);
    bannerTimer = setTimeout(function () { show(node, false); }, 8000);
  }

  // --- times -----------------------------------------------------------

  /** Milliseconds since the epoch from ISO 8601 or epoch seconds/ms; null if unknown. */
  function parseTime(value) {
    if (value === null || value === undefined || value === "") { return null; }
    if (typeof value === "number" || /^\d+(\.\d+)?$/.test(String(value))) {
      var number = Number(value);
      return number < 1e12 ? number * 1000 : number;
    }
    var parsed = Date.parse(value);
    return isNaN(parsed) ? null : parsed;
  }

  function clock(value) {
    var ms = parseTime(value);
    if (ms === null) { return ""; }
    return new Date(ms).toLocaleTimeString("pt-BR", { hour: "2-digit", minute: "2-digit" });
  }

  function dateTime(value) {
    var ms = parseTime(value);
    return ms === null ? "" : new Date(ms).toLocaleString("pt-BR", { day: "2-digit", month: "2-digit",
                                                                     hour: "2-digit", minute: "2-digit" });
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds || 0));
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) { return minutes + " min " + String(seconds % 60).padStart(2, "0") + " s"; }
    return Math.floor(minutes / 60) + " h " + String(minutes % 60).padStart(2, "0") + " min";
  }

  /** When the wait started: created_at, else now minus the wait the server computed. */
  function waitingSince(conversation, fetchedAt) {
    var created = parseTime(conversation.created_at);
    if (created !== null) { return created; }
    return fetchedAt - 1000 * (conversation.wait_seconds || 0);
  }

  // --- the API ---------------------------------------------------------

  function ApiError(status, body, retryAfter) {
    this.status = status;
    this.detail = (body && body.detail) || ("HTTP " + status);
    this.field = body && body.field;
    this.retryAfter = retryAfter;
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    var form = typeof FormData !== "undefined" && body instanceof FormData;  // a file: the browser sets the type
    if (body !== undefined && !form) { headers["Content-Type"] = "application/json"; }
    if (state.token) { headers["Authorization"] = "Bearer " + state.token; }
    return fetch(API + path, {
      method: method, headers: headers, cache: "no-store",
      body: body === undefined ? undefined : form ? body : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (ignored) { data = null; }
        if (response.ok) { return data; }
        var retry = parseInt(response.headers.get("Retry-After") || "", 10);
        var error = new ApiError(response.status, data, isNaN(retry) ? null : retry);
        if (response.status === 401 && path !== "/auth/login" && state.token) {
          sessionExpired();
        } else if (response.status === 503) {
          banner("Serviço indisponível no momento. Tente de novo em instantes.", "error");
        }
        throw error;
      });
    }, function () {
      throw new ApiError(0, { detail: "Sem conexão com o servidor." });
    });
  }

  function errorText(error) {
    if (!(error instanceof ApiError)) { return "Erro inesperado."; }
    if (error.status === 0) { return "Sem conexão com o servidor."; }
    if (error.status === 403) { return "Você não tem acesso a esta conversa."; }
    if (error.status === 404) { return "Conversa não encontrada."; }
    if (error.status === 503) { return "Serviço indisponível no momento."; }
    return error.detail;
  }

  // --- login and session ---------------------------------------------------

  function onLogin(event) {
    event.preventDefault();
    var username = $("login-username").value.trim();
    var password = $("login-password").value;
    if (!username) { setError($("login-error"), "Informe o usuário."); $("login-username").focus(); return; }
    if (!password) { setError($("login-error"), "Informe a senha."); $("login-password").focus(); return; }
    setError($("login-error"), "");
    $("login-submit").disabled = true;
    api("POST", "/auth/login", { username: username, password: password }).then(function (data) {
      $("login-password").value = "";
      $("login-submit").disabled = false;
      state.token = data.token;
      try { sessionStorage.setItem(TOKEN_KEY, data.token); } catch (ignored) { /* private mode */ }
      start(data.user, "online");
    }, function (error) {
      $("login-submit").disabled = false;
      if (error.status === 429) { lockLogin(error.retryAfter || 60); return; }
      if (error.status === 401) { setError($("login-error"), "Usuário ou senha incorretos."); }
      else if (error.status === 422 || error.status === 400) { setError($("login-error"), error.detail); }
      else { setError($("login-error"), errorText(error)); }
      $("login-password").select();
    });
  }

  /** Too many failed logins: say how long to wait and keep the button off until then. */
  function lockLogin(seconds) {
    var until = Date.now() + seconds * 1000;
    var button = $("login-submit");
    clearInterval(state.loginLockTimer);
    function tick() {
      var left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(state.loginLockTimer);
        button.disabled = false;
        setError($("login-error"), "");
        return;
      }
      button.disabled = true;
      setError($("login-error"), "Muitas tentativas sem sucesso. Tente novamente em " + duration(left) + ".");
    }
    tick();
    state.loginLockTimer = setInterval(tick, 1000);
  }

  function start(user, presence) {
    state.me = user;
    state.presence = presence === "away" ? "away" : "online";
    $("my-status").value = state.presence;
    $("me-name").textContent = user.name + " · " + (ROLE_LABELS[user.role] || user.role);
    show($("login-view"), false);
    show($("app-view"), true);
    show($("dashboard"), seesEverything());
    show($("admin-box"), user.role === "admin");
    heartbeat();
    state.heartbeatTimer = setInterval(heartbeat, HEARTBEAT_MS);
    state.tickTimer = setInterval(tick, 1000);
    if (seesEverything()) {
      refreshDashboard();
      state.dashboardTimer = setInterval(refreshDashboard, DASHBOARD_MS);
    }
    if (user.role === "admin" && window.DeskAdmin && !state.adminReady) {
      state.adminReady = true;  // once per page: its handlers stay bound across logins
      window.DeskAdmin({ api: api, el: el, clear: clear, show: show, setError: setError, banner: banner,
                         errorText: errorText, departmentsChanged: loadDepartments });
    }
    refreshLists();
    loadDepartments();
    loadCanned();
    connect();
    scheduleTokenRefresh();
  }

  // --- token refresh ---------------------------------------------------------

  /** The token's claims (iat, exp...), from its own payload; null if unreadable. */
  function tokenClaims(token) {
    try {
      return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    } catch (ignored) {
      return null;
    }
  }

  /** A shift needs one login: the token is swapped shortly before it expires
   *  (the server stops refreshing a day after the login; then the login form returns). */
  function scheduleTokenRefresh() {
    clearTimeout(state.tokenTimer);
    var claims = state.token && tokenClaims(state.token);
    if (!claims || !claims.exp || !claims.iat) { return; }
    var before = Math.min(REFRESH_BEFORE_MS, (claims.exp - claims.iat) * 500);  // half a short token's life
    var wait = Math.min(Math.max(claims.exp * 1000 - Date.now() - before, 1000), 2147483000);
    state.tokenTimer = setTimeout(refreshToken, wait);
  }

  function refreshToken() {
    if (!state.token) { return; }
    api("POST", "/auth/refresh").then(function (data) {
      state.token = data.token;
      try { sessionStorage.setItem(TOKEN_KEY, data.token); } catch (ignored) { /* private mode */ }
      scheduleTokenRefresh();
    }, function (error) {
      // 401: api() has ended the session already; otherwise try again shortly
      if (error.status !== 401 && state.token) { state.tokenTimer = setTimeout(refreshToken, 30000); }
    });
  }

  function stop() {
    [state.heartbeatTimer, state.tickTimer, state.dashboardTimer, state.pingTimer].forEach(clearInterval);
    [state.wsTimer, state.typingTimer, state.refreshTimer, state.tokenTimer].forEach(clearTimeout);
    var ws = state.ws;
    state.ws = null;
    if (ws) { ws.onclose = null; ws.close(1000, "logout"); }
    state.token = null;
    state.me = null;
    state.current = null;
    state.queue = [];
    state.mine = [];
    state.unread = {};
    state.outbox = [];
    state.typingSent = false;
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (ignored) { /* private mode */ }
    clear($("queue-list"));
    clear($("mine-list"));
    clear($("active-list"));
    closeConversationView();
    show($("banner"), false);
    show($("app-view"), false);
    show($("login-view"), true);
    document.title = "Central de atendimento";
    $("login-username").focus();
  }

  function sessionExpired() {
    stop();
    setError($("login-error"), "Sua sessão expirou. Entre novamente.");
  }

  function onLogout() {
    // Offline first (the token still works), then revoke the token.
    api("POST", "/me/status", { status: "offline" })
      .catch(function () { return null; })
      .then(function () { return api("POST", "/auth/logout"); })
      .catch(function () { return null; })
      .then(stop);
  }

  function seesEverything() {
    return Boolean(state.me) && (state.me.role === "supervisor" || state.me.role === "admin");
  }

  function heartbeat() {
    api("POST", "/me/status", { status: state.presence }).catch(function () { return null; });
    // Also a safety net for live updates: a missed event (or none, while the
    // WebSocket is down) is corrected within one heartbeat.
    refreshLists();
  }

  function onPresenceChange() {
    state.presence = $("my-status").value === "away" ? "away" : "online";
    heartbeat();
  }

  // --- the realtime connection ---------------------------------------------

  function connect() {
    if (!state.token) { return; }
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var ws;
    try {
      ws = new WebSocket(scheme + "//" + window.location.host + "/desk/ws");
    } catch (ignored) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    connection("Conectando...", "connecting");
    ws.onopen = function () {
      // The token goes in the first frame rather than the URL (URLs end up in logs).
      send({ type: "auth", data: { token: state.token } });
      state.wsAttempts = 0;
      connection("Ao vivo", "online");
      clearInterval(state.pingTimer);
      state.pingTimer = setInterval(function () { send({ type: "ping", data: {} }); }, PING_MS);
      if (state.current) { send({ type: "join_conversation", data: { conversation_id: state.current.id } }); }
      refreshLists();  // events missed while disconnected are not replayed
      if (state.current) { openConversation(state.current.id, true); }
    };
    ws.onmessage = function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (ignored) { return; }
      if (frame && typeof frame.type === "string") { onFrame(frame.type, frame.data || {}); }
    };
    ws.onclose = function (event) {
      clearInterval(state.pingTimer);
      if (state.ws !== ws) { return; }
      state.ws = null;
      if (event.code === 1008) { sessionExpired(); return; }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (!state.token) { return; }
    var delay = Math.min(BACKOFF_MAX_MS, 1000 * Math.pow(2, state.wsAttempts));
    delay = Math.round(delay / 2 + Math.random() * delay / 2);  // jitter: not every console at once
    state.wsAttempts += 1;
    connection("Sem conexão ao vivo; tentando de novo em " + Math.ceil(delay / 1000) + " s", "offline");
    clearTimeout(state.wsTimer);
    state.wsTimer = setTimeout(connect, delay);
  }

  function connection(text, kind) {
    var node = $("connection");
    node.textContent = text;
    node.className = "connection " + kind;
  }

  function send(frame) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) { return false; }
    frame.timestamp = new Date().toISOString();
    state.ws.send(JSON.stringify(frame));
    return true;
  }

  function onFrame(type, data) {
    var conversation = data.conversation || {};
    var id = data.conversation_id || conversation.id;
    var isCurrent = Boolean(state.current) && id === state.current.id;
    if (type === "new_message") {
      if (isCurrent) { receiveMessage(data.message || {}); }
      else if (id && isMine(id)) { state.unread[id] = true; renderMine(); }
    } else if (type === "conversation_assigned") {
      var mine = Boolean(state.me) && conversation.agent === state.me.username;
      if (mine && data.previous_agent && data.previous_agent !== state.me.username) {
        banner("Uma conversa foi transferida para você.", "info");
      } else if (isCurrent && !mine && !seesEverything()) {
        // The one on screen went to someone else: say so; the reload closes it.
        banner(data.previous_agent ? "Esta conversa foi transferida para " + (conversation.agent || "outro atendente") + "."
                                   : "Outro atendente já assumiu esta conversa.", "warning");
      }
      scheduleRefresh();
      if (isCurrent) { openConversation(id, true); }
    } else if (type === "conversation_closed") {
      scheduleRefresh();
      if (isCurrent) { openConversation(id, true); }
    } else if (type === "queue_update") {
      if (Array.isArray(data.queue)) { setQueue(data.queue); }
      else { scheduleRefresh(); }
    } else if (type === "agent_typing") {
      if (isCurrent && state.me && data.agent !== state.me.username) { othersTyping(data.agent, data.typing); }
    } else if (type === "customer_typing") {
      if (isCurrent) { othersTyping(null, data.typing, "O cliente está digitando..."); }
    } else if (type === "error") {
      setError($("conv-error"), data.message || "Erro na conexão ao vivo.");
    }
  }

  // --- lists -----------------------------------------------------------

  function isMine(id) {
    return state.mine.some(function (c) { return c.id === id; });
  }

  /** Several events in a burst cause one reload. */
  function scheduleRefresh() {
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(function () {
      refreshLists();
      if (seesEverything()) { refreshDashboard(); }
    }, 150);
  }

  function refreshLists() {
    if (!state.token || !state.me) { return; }
    api("GET", "/queue").then(function (data) { setQueue((data && data.queue) || []); }, function () { return null; });
    var mine = "/conversations?status=in_progress&agent=" + encodeURIComponent(state.me.username);
    api("GET", mine).then(function (data) {
      state.mine = (data && data.conversations) || [];
      state.mineFetchedAt = Date.now();
      renderMine();
    }, function () { return null; });
  }

  function setQueue(queue) {
    state.queue = queue;
    state.queueFetchedAt = Date.now();
    renderQueue();
  }

  function customerName(conversation) {
    var customer = conversation.customer || {};
    var name = customer.name || conversation.customer_name;
    if (name) { return name; }
    return customer.phone_masked ? "Cliente " + customer.phone_masked : "Cliente sem nome";
  }

  function channelBadge(channel) {
    var known = CHANNELS[channel] || [String(channel || "?").slice(0, 4), channel || "canal desconhecido"];
    return el("span", {
      className: "channel channel-" + String(channel || "unknown").replace(/[^a-z0-9_-]/gi, ""),
      title: known[1], "aria-label": "Canal: " + known[1], role: "img", text: known[0],
      "data-testid": "channel"
    });
  }

  function departmentName(slug) {
    return (state.departments && state.departments[slug]) || slug || "";
  }

  function departmentTag(slug) {
    if (!slug) { return null; }
    return el("span", { className: "department", "data-testid": "department", title: "Setor", text: departmentName(slug) });
  }

  /** The departments' names, read once per session (the transfer picker and the tags). */
  function loadDepartments() {
    return api("GET", "/departments").then(function (data) {
      state.departments = {};
      ((data && data.departments) || []).forEach(function (d) { state.departments[d.slug] = d.name; });
      renderQueue();
    }, function () { return null; });
  }

  /** Priority runs 0..100 (bot.desk); a normal handoff is 10, so only higher ones get a tag. */
  function priorityTag(priority) {
    if (!(priority >= 25)) { return null; }
    return el("span", {
      className: "priority" + (priority >= 50 ? " high" : ""), "data-testid": "priority",
      title: "Prioridade " + priority + " de 100", text: priority >= 50 ? "Urgente" : "Alta"
    });
  }

  /**
   * Put one <li> per conversation in ``list``, in order, keeping the nodes whose
   * content did not change: a refresh every few seconds must not steal the
   * keyboard focus or the element an agent is about to click.
   */
  function renderKeyed(list, conversations, view) {
    var old = {};
    Array.prototype.forEach.call(list.children, function (node) {
      old[node.getAttribute("data-conversation-id")] = node;
    });
    var nodes = conversations.map(function (conversation, index) {
      var signature = JSON.stringify(view.signature(conversation, index));
      var node = old[conversation.id];
      delete old[conversation.id];
      if (node && node.getAttribute("data-signature") === signature) { return node; }
      var fresh = view.build(conversation, index);
      fresh.setAttribute("data-signature", signature);
      if (node) { list.replaceChild(fresh, node); }
      return fresh;
    });
    Object.keys(old).forEach(function (id) { list.removeChild(old[id]); });
    nodes.forEach(function (node, index) {
      if (list.children[index] !== node) { list.insertBefore(node, list.children[index] || null); }
    });
  }

  function isSelected(conversation) {
    return Boolean(state.current) && state.current.id === conversation.id;
  }

  var queueView = {
    signature: function (conversation, index) {
      return [conversation.position || index + 1, customerName(conversation), conversation.reason,
              conversation.channel, conversation.priority, departmentName(conversation.department),
              Boolean(conversation.sla && conversation.sla.first_response_breached),
              waitingSince(conversation, state.queueFetchedAt), isSelected(conversation)];
    },
    build: function (conversation, index) {
      var position = conversation.position || index + 1;
      var since = waitingSince(conversation, state.queueFetchedAt);
      var open = el("button", {
        type: "button", className: "item-open", "data-testid": "queue-open",
        "aria-label": "Ver a conversa de " + customerName(conversation)
      }, [
        el("span", { className: "position", text: position + "º", title: "Posição na fila" }),
        channelBadge(conversation.channel),
        el("span", { className: "item-body" }, [
          el("strong", { text: customerName(conversation) }),
          el("span", { className: "muted reason", text: conversation.reason || "" })
        ]),
        departmentTag(conversation.department),
        conversation.sla && conversation.sla.first_response_breached
          ? el("span", { className: "priority high", "data-testid": "sla-breach",
                         title: "Sem resposta além da meta de " + duration(conversation.sla.first_response_target),
                         text: "SLA" }) : null,
        priorityTag(conversation.priority),
        el("span", { className: "wait", "data-since": since, "data-testid": "wait",
                     title: "Tempo de espera", text: duration((Date.now() - since) / 1000) })
      ]);
      open.addEventListener("click", function () { openConversation(conversation.id); });
      var claim = el("button", { type: "button", className: "primary small", "data-testid": "claim",
                                 text: "Assumir", "aria-label": "Assumir a conversa de " + customerName(conversation) });
      claim.addEventListener("click", function () { claimConversation(conversation.id); });
      return el("li", {
        className: "item" + (isSelected(conversation) ? " selected" : ""),
        "data-testid": "queue-item", "data-conversation-id": conversation.id
      }, [open, claim]);
    }
  };

  var mineView = {
    signature: function (conversation) {
      return [customerName(conversation), conversation.reason, conversation.channel,
              Boolean(state.unread[conversation.id]), isSelected(conversation)];
    },
    build: function (conversation) {
      var unread = Boolean(state.unread[conversation.id]);
      var open = el("button", {
        type: "button", className: "item-open", "data-testid": "mine-open",
        "aria-label": "Abrir a conversa de " + customerName(conversation) + (unread ? " (mensagem nova)" : "")
      }, [
        channelBadge(conversation.channel),
        el("span", { className: "item-body" }, [
          el("strong", { text: customerName(conversation) }),
          el("span", { className: "muted reason", text: conversation.reason || "" })
        ]),
        departmentTag(conversation.department),
        conversation.sla && conversation.sla.first_response_breached
          ? el("span", { className: "priority high", "data-testid": "sla-breach",
                         title: "Sem resposta além da meta de " + duration(conversation.sla.first_response_target),
                         text: "SLA" }) : null,
        unread ? el("span", { className: "unread", text: "nova", "data-testid": "unread" }) : null
      ]);
      open.addEventListener("click", function () { openConversation(conversation.id); });
      return el("li", {
        className: "item" + (isSelected(conversation) ? " selected" : ""),
        "data-testid": "mine-item", "data-conversation-id": conversation.id
      }, [open]);
    }
  };

  /** Supervisors: every conversation in progress, with who has it. */
  var activeView = {
    signature: function (conversation) {
      return [customerName(conversation), conversation.agent, conversation.channel, isSelected(conversation)];
    },
    build: function (conversation) {
      var open = el("button", {
        type: "button", className: "item-open", "data-testid": "active-open",
        "aria-label": "Abrir a conversa de " + customerName(conversation) + " com " + (conversation.agent || "ninguém")
      }, [
        channelBadge(conversation.channel),
        el("span", { className: "item-body" }, [
          el("strong", { text: customerName(conversation) }),
          el("span", { className: "muted reason", text: "com " + (conversation.agent || "?") })
        ])
      ]);
      open.addEventListener("click", function () { openConversation(conversation.id); });
      return el("li", {
        className: "item" + (isSelected(conversation) ? " selected" : ""),
        "data-testid": "active-item", "data-conversation-id": conversation.id
      }, [open]);
    }
  };

  function renderQueue() {
    renderKeyed($("queue-list"), state.queue, queueView);
    $("queue-count").textContent = String(state.queue.length);
    show($("queue-empty"), state.queue.length === 0);
    document.title = (state.queue.length ? "(" + state.queue.length + ") " : "") + "Central de atendimento";
  }

  function renderMine() {
    renderKeyed($("mine-list"), state.mine, mineView);
    $("mine-count").textContent = String(state.mine.length);
    show($("mine-empty"), state.mine.length === 0);
  }

  /** Once a second: the waits in the queue grow while the page is open. */
  function tick() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll("[data-since]"), function (node) {
      node.textContent = duration((now - Number(node.getAttribute("data-since"))) / 1000);
    });
  }

  // --- one conversation ------------------------------------------------------

  function claimConversation(id) {
    api("POST", "/conversations/" + encodeURIComponent(id) + "/claim").then(function (data) {
      refreshLists();
      openConversation((data && data.conversation && data.conversation.id) || id);
    }, function (error) {
      if (error.status === 409) {
        banner("Outro atendente já assumiu esta conversa.", "warning");
        refreshLists();
        if (state.current && state.current.id === id) { openConversation(id, true); }
      } else if (error.status !== 401) {
        banner("Não foi possível assumir: " + errorText(error), "error");
      }
    });
  }

  /** Show a conversation; ``quiet`` keeps the reply box and the scroll position. */
  function openConversation(id, quiet) {
    return api("GET", "/conversations/" + encodeURIComponent(id)).then(function (data) {
      var previous = state.current;
      var switching = !previous || previous.id !== id;
      if (quiet && switching) { return; }  // a background reload, but the agent moved on meanwhile
      if (previous && switching) {
        stopTyping();
        send({ type: "leave_conversation", data: { conversation_id: previous.id } });
      }
      if (switching) { send({ type: "join_conversation", data: { conversation_id: id } }); }
      data.conversation.loaded_at = Date.now();
      state.current = data.conversation;
      delete state.unread[id];
      renderConversation(data.conversation, data.transcript || [], !quiet);
      renderQueue();
      renderMine();
    }, function (error) {
      if (error.status === 403 || error.status === 404) {
        // Taken by someone else or gone: a background reload just closes the view.
        if (state.current && state.current.id === id) { closeConversationView(); }
        if (!quiet) { banner(errorText(error), "warning"); }
        refreshLists();
      } else if (error.status !== 401) {
        setError($("conv-error"), errorText(error));
      }
    });
  }

  function closeConversationView() {
    if (state.current) { send({ type: "leave_conversation", data: { conversation_id: state.current.id } }); }
    stopTyping();
    state.current = null;
    show($("conversation"), false);
    show($("placeholder"), true);
  }

  // Meta's 24-hour window of a WhatsApp conversation, counted down from when it was read.
  function windowText(window_, loadedAt) {
    if (!window_) { return null; }
    var left = Math.max(0, window_.seconds_left - Math.floor((Date.now() - (loadedAt || Date.now())) / 1000));
    if (left <= 0) { return "Janela do WhatsApp fechada: so modelos aprovados"; }
    var hours = Math.floor(left / 3600), minutes = Math.floor((left % 3600) / 60);
    return "Janela do WhatsApp: " + hours + "h" + (minutes < 10 ? "0" : "") + minutes + " restantes";
  }

  function canReply(conversation) {
    if (!state.me || conversation.status !== "in_progress") { return false; }
    return conversation.agent === state.me.username || seesEverything();
  }

  function metaText(conversation) {
    var customer = conversation.customer || {};
    var meta = [
      (CHANNELS[conversation.channel] || [null, conversation.channel])[1],
      customer.phone_masked,
      customer.contract_id ? "Contrato " + customer.contract_id : null,
      conversation.protocol ? "Protocolo " + conversation.protocol : null,
      conversation.reason ? "Motivo: " + conversation.reason : null,
      conversation.agent ? "Atendente: " + conversation.agent : null,
      conversation.csat ? "Nota do cliente: " + conversation.csat + "/5" : null,
      windowText(conversation.whatsapp_window, conversation.loaded_at),
      conversation.department ? "Setor: " + departmentName(conversation.department) : null
    ].filter(Boolean);
    return meta.join(" · ");
  }

  // The window's countdown moves on while the conversation stays open.
  setInterval(function () {
    if (state.current && state.current.whatsapp_window) {
      $("conv-meta").textContent = metaText(state.current);
      if (canReply(state.current) && windowClosed(state.current) && $("template-form").hidden) {
        openConversation(state.current.id, true);  // the window closed while the conversation was open
      }
    }
  }, 30000);

  function renderConversation(conversation, transcript, fresh) {
    $("conv-title").textContent = customerName(conversation);
    $("conv-meta").textContent = metaText(conversation);
    var status = $("conv-status");
    status.textContent = STATUS_LABELS[conversation.status] || conversation.status;
    status.className = "status-tag status-" + conversation.status;
    renderLabelsAndNotes(conversation);
    var notes = (conversation.transfers || []).filter(function (t) { return t && t.note; }).map(function (t) {
      return "- " + (t.by || "?") + ": " + t.note;
    });
    $("conv-summary").textContent = (conversation.summary || "Sem resumo.") +
      (notes.length ? "\n\nNotas internas:\n" + notes.join("\n") : "");

    var list = $("transcript");
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    clear(list);
    transcript.forEach(function (message) { list.appendChild(bubble(message)); });
    if (fresh || nearBottom) { list.scrollTop = list.scrollHeight; }

    var replying = canReply(conversation);
    var templatesOnly = replying && windowClosed(conversation);
    show($("claim-bar"), conversation.status === "queue");
    show($("reply-form"), replying && !templatesOnly);
    show($("template-form"), templatesOnly);
    if (templatesOnly && (fresh || !$("template-name").options.length)) { loadTemplates(); }
    show($("conv-actions"), replying);
    show($("typing"), false);
    if (fresh) {
      setError($("conv-error"), "");
      show($("suggest-note"), false);
      $("reply-text").value = "";
      $("transfer-box").open = false;
      $("close-box").open = false;
    }
    show($("placeholder"), false);
    show($("conversation"), true);
    if (fresh) { (replying ? (templatesOnly ? $("template-name") : $("reply-text")) : $("conv-title")).focus(); }
  }

  // --- labels, private notes and search ---------------------------------------

  function renderLabelsAndNotes(conversation) {
    var labels = $("labels");
    clear(labels);
    (conversation.labels || []).forEach(function (label) {
      var remove = el("button", { type: "button", className: "chip-remove", "aria-label": "Remover etiqueta " + label,
                                  text: "×", "data-testid": "label-remove" });
      remove.addEventListener("click", function (event) {
        event.preventDefault();
        conversationCall("DELETE", "/labels/" + encodeURIComponent(label));
      });
      labels.appendChild(el("span", { className: "chip", "data-testid": "label", "data-label": label },
                            [el("span", { text: label }), remove]));
    });
    var list = $("internal-notes");
    clear(list);
    (conversation.internal_notes || []).forEach(function (note) {
      list.appendChild(el("li", { "data-testid": "internal-note" }, [
        el("strong", { text: (note.by || "?") + ": " }), el("span", { text: note.text || "" }),
        el("time", { className: "muted", text: " " + clock(note.at) })
      ]));
    });
  }

  /** A change to the open conversation, then its fresh view. */
  function conversationCall(method, path, body) {
    if (!state.current) { return Promise.resolve(); }
    var id = state.current.id;
    return api(method, "/conversations/" + encodeURIComponent(id) + path, body).then(function () {
      setError($("conv-error"), "");
      return openConversation(id, true);
    }, function (error) {
      if (error.status !== 401) { setError($("conv-error"), errorText(error)); }
      throw error;
    });
  }

  function onAddLabel(event) {
    event.preventDefault();
    var label = $("label-text").value.trim().toLowerCase();
    if (!label) { $("label-text").focus(); return; }
    conversationCall("POST", "/labels", { label: label }).then(function () { $("label-text").value = ""; },
                                                              function () { return null; });
  }

  function onAddNote(event) {
    event.preventDefault();
    var text = $("note-text").value.trim();
    if (!text) { $("note-text").focus(); return; }
    conversationCall("POST", "/notes", { text: text }).then(function () { $("note-text").value = ""; },
                                                           function () { return null; });
  }

  function onSearch(event) {
    event.preventDefault();
    var value = $("search-value").value.trim();
    if (!value) { $("search-value").focus(); return; }
    var query = encodeURIComponent($("search-field").value) + "=" + encodeURIComponent(value);
    api("GET", "/search?" + query + "&limit=20").then(function (data) {
      var list = $("search-results");
      clear(list);
      var found = (data && data.conversations) || [];
      found.forEach(function (conversation) {
        var open = el("button", { type: "button", className: "item-open", "data-testid": "search-open",
                                  "data-conversation-id": conversation.id }, [
          el("strong", { text: customerName(conversation) }),
          el("span", { className: "muted", text: " " + (STATUS_LABELS[conversation.status] || conversation.status) +
                                                   " · " + dateTime(conversation.created_at) })
        ]);
        open.addEventListener("click", function () { openConversation(conversation.id); });
        list.appendChild(el("li", { className: "item", "data-testid": "search-item" }, [open]));
      });
      show($("search-empty"), found.length === 0);
    }, function (error) {
      if (error.status !== 401) { banner("Busca: " + errorText(error), "error"); }
    });
  }

  // --- templates once the WhatsApp window closed -----------------------------

  function windowSecondsLeft(conversation) {
    var window_ = conversation.whatsapp_window;
    if (!window_) { return null; }
    return Math.max(0, window_.seconds_left - Math.floor((Date.now() - (conversation.loaded_at || Date.now())) / 1000));
  }

  function windowClosed(conversation) { return windowSecondsLeft(conversation) === 0; }

  /** The approved utility templates (a conversation takes only those), read once per session. */
  function loadTemplates() {
    if (state.templates) { renderTemplatePicker(); return; }
    api("GET", "/whatsapp/templates").then(function (data) {
      state.templates = ((data && data.templates) || []).filter(function (t) { return t.category === "utility"; });
      renderTemplatePicker();
    }, function (error) {
      if (error.status !== 401) { setError($("conv-error"), "Não foi possível carregar os modelos: " + errorText(error)); }
    });
  }

  function chosenTemplate() {
    var name = $("template-name").value;
    return (state.templates || []).filter(function (t) { return t.name === name; })[0] || null;
  }

  function renderTemplatePicker() {
    var select = $("template-name");
    var previous = select.value;
    clear(select);
    (state.templates || []).forEach(function (t) {
      select.appendChild(el("option", { value: t.name, text: t.name }));
    });
    if (previous) { select.value = previous; }
    renderTemplateParameters();
  }

  var PARAMETER_LABELS = {
    customer_name: "Nome do cliente", area: "Região", description: "Descrição", expected_end: "Previsão",
    amount: "Valor (R$)", due_date: "Vencimento", pix_code: "Código PIX", code: "Código"
  };

  function renderTemplateParameters() {
    var box = $("template-parameters");
    clear(box);
    var template = chosenTemplate();
    (template ? template.parameters : []).forEach(function (name) {
      var id = "template-param-" + name;
      var value = name === "customer_name" && state.current ? customerName(state.current).split(" ")[0] : "";
      box.appendChild(el("label", { "for": id, text: PARAMETER_LABELS[name] || name }));
      box.appendChild(el("input", { id: id, name: name, required: true, maxlength: 1024, value: value,
                                    "data-testid": "template-param-" + name }));
    });
    updateTemplatePreview();
  }

  function templateValues() {
    var values = {};
    Array.prototype.forEach.call($("template-parameters").querySelectorAll("input"), function (input) {
      values[input.name] = input.value.trim();
    });
    return values;
  }

  /** The approved wording with what the agent typed, as the customer will read it. */
  function updateTemplatePreview() {
    var template = chosenTemplate();
    var values = templateValues();
    var text = template ? template.text.replace(/\{\{(\d+)\}\}/g, function (whole, n) {
      return values[template.body_parameters[Number(n) - 1]] || whole;
    }) : "";
    $("template-preview").textContent = text;
  }

  function sendTemplate(event) {
    event.preventDefault();
    var template = chosenTemplate();
    if (!template || !state.current) { return; }
    var values = templateValues();
    var missing = template.parameters.filter(function (name) { return !values[name]; })[0];
    if (missing) {
      setError($("conv-error"), "Preencha " + (PARAMETER_LABELS[missing] || missing) + ".");
      $("template-param-" + missing).focus();
      return;
    }
    var id = state.current.id;
    var button = $("template-form").querySelector("button[type=submit]");
    button.disabled = true;
    api("POST", "/conversations/" + encodeURIComponent(id) + "/template",
        { template_name: template.name, parameters: values }).then(function () {
      button.disabled = false;
      setError($("conv-error"), "");
      banner("Modelo enviado. A conversa livre volta quando o cliente responder.", "info");
      if (state.current && state.current.id === id) { openConversation(id, true); }
    }, function (error) {
      button.disabled = false;
      if (error.status === 422) { setError($("conv-error"), "Modelo não enviado: " + error.detail); }
      else if (error.status !== 401) { setError($("conv-error"), "Modelo não enviado: " + errorText(error)); }
    });
  }

  function authorLabel(message) {
    if (message.author === "customer") { return "Cliente"; }
    if (message.author === "agent") {
      return state.me && message.agent === state.me.username ? "Você" : (message.agent || "Atendente");
    }
    return "Bot";
  }

  function safeUrl(value) {
    try {
      var url = new URL(String(value), window.location.href);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (ignored) {
      return null;
    }
  }

  function bubble(message) {
    var author = ["customer", "bot", "agent"].indexOf(message.author) >= 0 ? message.author : "bot";
    var parts = [
      el("span", { className: "author", text: authorLabel(message) }),
      message.text && !(message.media && message.media.transcript === message.text)  // a voice note: under it
        ? el("p", { className: "text", text: message.text, "data-testid": "msg-text" }) : null
    ];
    var image = message.image && safeUrl(message.image);
    if (image) {
      parts.push(el("a", { href: image, target: "_blank", rel: "noopener noreferrer", text: "Imagem" }));
    }
    if (message.media) { parts.push(mediaNode(message.media)); }
    if (Array.isArray(message.buttons) && message.buttons.length) {
      parts.push(el("ul", { className: "buttons", "aria-label": "Botões oferecidos" },
        message.buttons.map(function (button) {
          return el("li", { text: (button && (button.title || button.payload)) || "" });
        })));
    }
    parts.push(el("time", { className: "time", text: clock(message.timestamp) }));
    return el("li", { className: "msg msg-" + author, "data-testid": "msg-" + author }, parts);
  }

  var MEDIA_NAMES = { image: "Imagem", sticker: "Figurinha", document: "Documento", audio: "Áudio", video: "Vídeo" };

  function fileSize(bytes) {
    if (!bytes) { return ""; }
    return bytes < 1024 * 1024 ? Math.max(1, Math.round(bytes / 1024)) + " KB" : (bytes / 1048576).toFixed(1) + " MB";
  }

  /** A file in a message: a preview of images, a player for audio and video, a link to documents. */
  function mediaNode(media) {
    var name = MEDIA_NAMES[media.kind] || "Arquivo";
    var url = media.url && safeUrl(media.url);
    if (!url) {
      return el("p", { className: "muted media-missing", "data-testid": "msg-media-missing",
                       text: name + " não disponível" + (media.error ? ": " + media.error : "") });
    }
    var label = name + (media.filename ? ": " + media.filename : "") + (media.size ? " (" + fileSize(media.size) + ")" : "");
    var preview = null;
    if (media.kind === "image" || media.kind === "sticker") {
      preview = el("img", { src: url, alt: label, className: "media-preview", loading: "lazy", "data-testid": "msg-image" });
    } else if (media.kind === "audio" || media.kind === "video") {
      preview = el(media.kind, { src: url, controls: true, preload: "none", className: "media-player",
                                 "data-testid": "msg-" + media.kind });
    }
    var link = el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: label,
                         "data-testid": "msg-media-link" });
    var heard = media.transcript ? el("p", { className: "muted transcript-text", "data-testid": "msg-transcript",
                                             text: "Transcrição: " + media.transcript }) : null;
    var seen = media.description ? el("p", { className: "muted transcript-text", "data-testid": "msg-description",
                                             text: "O bot leu: " + media.description }) : null;
    return el("div", { className: "media", "data-testid": "msg-media" }, [preview, heard, seen, link]);
  }

  function appendMessage(message) {
    var list = $("transcript");
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    list.appendChild(bubble(message));
    if (nearBottom || message.author === "agent") { list.scrollTop = list.scrollHeight; }
  }

  /** A message from the WebSocket; our own replies are shown once (see sendReply). */
  function receiveMessage(message) {
    if (message.author === "agent" && state.me && message.agent === state.me.username) {
      for (var i = 0; i < state.outbox.length; i += 1) {
        var entry = state.outbox[i];
        if (entry.text === message.text && !entry.media === !message.media && entry.by !== "ws") {
          if (entry.by === "http") { state.outbox.splice(i, 1); return; }
          entry.by = "ws";
          break;
        }
      }
    }
    if (message.author === "customer") {
      show($("typing"), false);
      var current = state.current;
      if (current && current.whatsapp_window && windowClosed(current)) {
        // the customer wrote: Meta's window is open again for 24 hours
        current.whatsapp_window = { open: true, seconds_left: 24 * 3600 };
        current.loaded_at = Date.now();
        $("conv-meta").textContent = metaText(current);
        var replying = canReply(current);
        show($("reply-form"), replying);
        show($("template-form"), false);
      }
    }
    appendMessage(message);
  }

  function sendReply(event) {
    if (event) { event.preventDefault(); }
    var box = $("reply-text");
    var text = box.value.trim();
    if (!text || !state.current) { return; }
    if (text.length > 4096) { setError($("conv-error"), "A mensagem pode ter no máximo 4096 caracteres."); return; }
    var button = $("reply-form").querySelector("button[type=submit]");
    deliver("/messages", { text: text }, { text: text, by: null }, button, function () {
      if (box.value.trim() === text) { box.value = ""; }
    });
  }

  /** An attachment, with the reply box's text as its caption. */
  function sendAttachment() {
    var input = $("attach-file");
    var file = input.files && input.files[0];
    if (!file || !state.current) { return; }
    var box = $("reply-text");
    var caption = box.value.trim();
    var form = new FormData();
    form.append("file", file, file.name);
    if (caption) { form.append("caption", caption); }
    deliver("/attachments", form, { text: caption || "", media: true, by: null }, $("attach-button"), function () {
      if (box.value.trim() === caption) { box.value = ""; }
      input.value = "";
    }, function () { input.value = ""; });
  }

  /** POST an agent's message or file; shown once whether HTTP or /desk/ws answers first. */
  function deliver(path, body, entry, button, done, failed) {
    var id = state.current.id;
    state.outbox.push(entry);
    button.disabled = true;
    stopTyping();
    api("POST", "/conversations/" + encodeURIComponent(id) + path, body).then(function (data) {
      button.disabled = false;
      setError($("conv-error"), "");
      done();
      var index = state.outbox.indexOf(entry);
      if (entry.by === "ws") { state.outbox.splice(index, 1); return; }
      entry.by = "http";
      setTimeout(function () {
        var at = state.outbox.indexOf(entry);
        if (at >= 0) { state.outbox.splice(at, 1); }
      }, 15000);
      if (state.current && state.current.id === id) {
        appendMessage((data && data.message) || { author: "agent", agent: state.me.username, text: entry.text,
                                                  timestamp: new Date().toISOString() });
      }
    }, function (error) {
      button.disabled = false;
      state.outbox.splice(state.outbox.indexOf(entry), 1);
      if (failed) { failed(); }
      if (error.status === 413 || error.status === 415) {
        setError($("conv-error"), "Arquivo não enviado: " + error.detail);
      } else if (error.status === 409 && error.field === "window") {
        setError($("conv-error"), "A mensagem não foi enviada: a janela de 24 horas do WhatsApp fechou. Envie um modelo.");
        if (state.current && state.current.whatsapp_window) { state.current.whatsapp_window.seconds_left = 0; }
        openConversation(id, true);
      } else if (error.status === 409 || error.status === 403) {
        setError($("conv-error"), "A mensagem não foi enviada: a conversa não está mais com você.");
        openConversation(id, true);
      } else if (error.status !== 401) {
        setError($("conv-error"), "A mensagem não foi enviada: " + errorText(error));
      }
    });
  }

  function onReplyKey(event) {
    if (event.key === "Tab" && !event.shiftKey && expandCanned()) { event.preventDefault(); return; }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { sendReply(event); }
  }

  // --- agent assist -----------------------------------------------------------

  /** A suggested reply into the box, for the agent to edit and send: never sent from here. */
  function suggestReply() {
    if (!state.current) { return; }
    var id = state.current.id;
    var button = $("suggest");
    button.disabled = true;
    api("POST", "/conversations/" + encodeURIComponent(id) + "/suggestion").then(function (data) {
      button.disabled = false;
      if (!state.current || state.current.id !== id) { return; }
      var suggestion = (data && data.suggestion) || {};
      var note = $("suggest-note");
      if (!suggestion.text) {
        note.textContent = "Sem sugestão para esta mensagem na base de conhecimento.";
      } else {
        $("reply-text").value = suggestion.text;
        $("reply-text").focus();
        var passage = (suggestion.passages || [])[0];
        note.textContent = "Sugestão (" + (suggestion.source === "llm" ? "IA com a base de conhecimento" : "base de conhecimento") +
          (passage ? ": " + passage.heading : "") + "). Revise antes de enviar.";
      }
      show(note, true);
    }, function (error) {
      button.disabled = false;
      if (error.status !== 401) { setError($("conv-error"), "Sem sugestão: " + errorText(error)); }
    });
  }

  // --- canned replies (respostas rapidas) -------------------------------------

  function loadCanned() {
    return api("GET", "/canned-replies").then(function (data) {
      state.canned = (data && data.canned_replies) || [];
    }, function () { return null; });
  }

  /** The "/word" right before the cursor, or null. */
  function typedShortcut() {
    var box = $("reply-text");
    var before = box.value.slice(0, box.selectionStart);
    var match = /(^|\s)\/([a-z0-9_-]*)$/.exec(before);
    return match ? { word: match[2], start: before.length - match[2].length - 1, end: box.selectionStart } : null;
  }

  /** {nome}, {protocolo}, {atendente} filled from the conversation on screen. */
  function fillCanned(text) {
    var current = state.current || {};
    var name = (current.customer && current.customer.name) || current.customer_name || "";
    var values = { nome: name.split(" ")[0] || "", protocolo: current.protocol || "",
                   atendente: (state.me && state.me.name) || "" };
    return text.replace(/\{(nome|protocolo|atendente)\}/g, function (whole, key) { return values[key]; });
  }

  function cannedMatches(word) {
    return (state.canned || []).filter(function (reply) { return reply.shortcut.indexOf(word) === 0; });
  }

  /** Replace "/shortcut" before the cursor with its reply; true when it did. */
  function expandCanned(reply) {
    var typed = typedShortcut();
    if (!typed) { return false; }
    var matches = cannedMatches(typed.word);
    reply = reply || matches.filter(function (r) { return r.shortcut === typed.word; })[0] ||
            (matches.length === 1 ? matches[0] : null);
    if (!reply) { return false; }
    var box = $("reply-text");
    var text = fillCanned(reply.text);
    box.value = box.value.slice(0, typed.start) + text + box.value.slice(typed.end);
    box.selectionStart = box.selectionEnd = typed.start + text.length;
    showCannedSuggestions();
    return true;
  }

  function showCannedSuggestions() {
    var list = $("canned-suggestions");
    var typed = typedShortcut();
    var matches = typed ? cannedMatches(typed.word).slice(0, 8) : [];
    clear(list);
    matches.forEach(function (reply) {
      var item = el("li", { role: "option", "data-testid": "canned-option", "data-shortcut": reply.shortcut }, [
        el("strong", { text: "/" + reply.shortcut }), el("span", { className: "muted", text: " " + reply.text.slice(0, 80) })
      ]);
      item.addEventListener("mousedown", function (event) { event.preventDefault(); expandCanned(reply); });
      list.appendChild(item);
    });
    show(list, matches.length > 0);
  }

  /** typing_start once while the agent types, typing_stop after a pause or on send. */
  function onReplyInput() {
    if (!state.current) { return; }
    showCannedSuggestions();
    if (!$("reply-text").value) { stopTyping(); return; }
    if (!state.typingSent) {
      state.typingSent = send({ type: "typing_start", data: { conversation_id: state.current.id } });
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSent && state.current) {
      send({ type: "typing_stop", data: { conversation_id: state.current.id } });
    }
    state.typingSent = false;
  }

  function othersTyping(agent, typing, wording) {
    var node = $("typing");
    clearTimeout(state.othersTypingTimer);
    node.textContent = wording || (agent || "Outro atendente") + " está digitando...";
    show(node, Boolean(typing));
    if (typing) { state.othersTypingTimer = setTimeout(function () { show(node, false); }, 10000); }
  }

  // --- transfer and close ----------------------------------------------------

  function loadTransferTargets() {
    if (!$("transfer-box").open || !state.current) { return; }
    var departments = $("transfer-department");
    clear(departments);
    departments.appendChild(el("option", { value: "", text: "Escolha..." }));
    Object.keys(state.departments || {}).sort().forEach(function (slug) {
      departments.appendChild(el("option", { value: slug, text: departmentName(slug) }));
    });
    var select = $("transfer-to");
    clear(select);
    select.appendChild(el("option", { value: "", text: "Carregando..." }));
    api("GET", "/agents").then(function (data) {
      clear(select);
      var agents = ((data && data.agents) || []).filter(function (agent) {
        return agent.username !== state.current.agent && !agent.disabled;
      });
      select.appendChild(el("option", { value: "", text: agents.length ? "Escolha..." : "Nenhum outro atendente" }));
      agents.forEach(function (agent) {
        var presence = PRESENCE_LABELS[agent.status] || agent.status || "";
        select.appendChild(el("option", { value: agent.username, text: agent.name + " (" + presence + ")" }));
      });
    }, function (error) {
      clear(select);
      select.appendChild(el("option", { value: "", text: "Lista indisponível" }));
      setError($("conv-error"), "Não foi possível listar os atendentes: " + errorText(error));
    });
  }

  function onTransfer(event) {
    event.preventDefault();
    var to = $("transfer-to").value;
    var department = $("transfer-department").value;
    var reason = $("transfer-reason").value.trim();
    if (!to === !department) {
      setError($("conv-error"), "Escolha um atendente ou um setor (um dos dois).");
      $("transfer-to").focus();
      return;
    }
    if (!reason) { setError($("conv-error"), "Informe o motivo da transferência."); $("transfer-reason").focus(); return; }
    var id = state.current.id;
    var body = { reason: reason, note: $("transfer-note").value.trim() };
    if (to) { body.to = to; } else { body.department = department; }
    api("POST", "/conversations/" + encodeURIComponent(id) + "/transfer", body).then(function () {
      $("transfer-reason").value = "";
      $("transfer-note").value = "";
      banner("Conversa transferida.", "info");
      refreshLists();
      if (seesEverything()) { openConversation(id, true); } else { closeConversationView(); }
    }, function (error) {
      if (error.status !== 401) { setError($("conv-error"), "Não foi possível transferir: " + errorText(error)); }
    });
  }

  function onClose(event) {
    event.preventDefault();
    var resolution = $("close-resolution").value.trim();
    var notes = $("close-notes").value.trim();
    if (!resolution) { setError($("conv-error"), "Informe a resolução."); $("close-resolution").focus(); return; }
    var id = state.current.id;
    stopTyping();
    api("POST", "/conversations/" + encodeURIComponent(id) + "/close", { resolution: resolution, notes: notes }).then(function () {
      $("close-resolution").value = "";
      $("close-notes").value = "";
      banner("Conversa encerrada; o bot retomou o atendimento.", "info");
      refreshLists();
      openConversation(id, true);
    }, function (error) {
      if (error.status !== 401) { setError($("conv-error"), "Não foi possível encerrar: " + errorText(error)); }
    });
  }

  // --- supervisors' dashboard --------------------------------------------------

  /** The last 7 days per department and agent, as a CSV file (the token goes in the header, not the URL). */
  function downloadReport() {
    fetch(API + "/reports?format=csv", { headers: { "Authorization": "Bearer " + state.token }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.blob();
      }).then(function (blob) {
        var link = el("a", { href: URL.createObjectURL(blob), download: "relatorio-atendimento.csv" });
        document.body.appendChild(link);
        link.click();
        setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
      }, function (error) { banner("Relatório indisponível: " + error.message, "error"); });
  }

  function refreshDashboard() {
    if (!seesEverything()) { return; }
    api("GET", "/metrics").then(renderMetrics, function () { return null; });
    api("GET", "/conversations?status=in_progress").then(function (data) {
      var active = (data && data.conversations) || [];
      renderKeyed($("active-list"), active, activeView);
      show($("active-empty"), active.length === 0);
    }, function () { return null; });
    api("GET", "/agents").then(function (data) { renderAgents((data && data.agents) || []); }, function () { return null; });
  }

  function renderMetrics(metrics) {
    metrics = metrics || {};
    var rows = [
      ["Em atendimento", metrics.active],
      ["Na fila", metrics.in_queue],
      ["Resolvidas hoje", metrics.resolved_today],
      ["Atendentes disponíveis", metrics.agents_online],
      ["Atendentes ocupados", metrics.agents_busy],
      ["Espera média", metrics.average_wait_seconds == null ? null : duration(metrics.average_wait_seconds)],
      ["Atendimento médio", metrics.average_handling_seconds == null ? null : duration(metrics.average_handling_seconds)],
      ["CSAT médio", metrics.csat_average == null ? null : Number(metrics.csat_average).toFixed(1)]
    ];
    var list = $("metrics");
    clear(list);
    rows.forEach(function (row) {
      list.appendChild(el("div", { className: "metric" }, [
        el("dt", { text: row[0] }),
        el("dd", { text: row[1] === null || row[1] === undefined ? "–" : String(row[1]) })
      ]));
    });
  }

  function renderAgents(agents) {
    var body = $("agents");
    clear(body);
    agents.forEach(function (agent) {
      body.appendChild(el("tr", { "data-testid": "agent-row" }, [
        el("td", { text: agent.name || agent.username }),
        el("td", {}, [el("span", { className: "presence presence-" + agent.status,
                                   text: PRESENCE_LABELS[agent.status] || agent.status || "" })]),
        el("td", { text: String(agent.active_conversations || 0) })
      ]));
    });
  }

  // --- start -------------------------------------------------------------

  function init() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", onLogout);
    $("my-status").addEventListener("change", onPresenceChange);
    $("reply-form").addEventListener("submit", sendReply);
    $("attach-button").addEventListener("click", function () { $("attach-file").click(); });
    $("attach-file").addEventListener("change", sendAttachment);
    $("template-form").addEventListener("submit", sendTemplate);
    $("label-form").addEventListener("submit", onAddLabel);
    $("suggest").addEventListener("click", suggestReply);
    $("report-download").addEventListener("click", downloadReport);
    $("note-form").addEventListener("submit", onAddNote);
    $("search-form").addEventListener("submit", onSearch);
    $("template-name").addEventListener("change", renderTemplateParameters);
    $("template-parameters").addEventListener("input", updateTemplatePreview);
    $("reply-text").addEventListener("keydown", onReplyKey);
    $("reply-text").addEventListener("input", onReplyInput);
    $("reply-text").addEventListener("blur", stopTyping);
    $("claim").addEventListener("click", function () { if (state.current) { claimConversation(state.current.id); } });
    $("transfer-box").addEventListener("toggle", loadTransferTargets);
    $("transfer-form").addEventListener("submit", onTransfer);
    $("close-form").addEventListener("submit", onClose);

    var saved = null;
    try { saved = sessionStorage.getItem(TOKEN_KEY); } catch (ignored) { saved = null; }
    if (!saved) { $("login-username").focus(); return; }
    state.token = saved;
    api("GET", "/me").then(function (me) {
      start(me, me.status);
    }, function () {
      state.token = null;
      try { sessionStorage.removeItem(TOKEN_KEY); } catch (ignored) { /* private mode */ }
      $("login-username").focus();
    });
  }

  init();
})();
