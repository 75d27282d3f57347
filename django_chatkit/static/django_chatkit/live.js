/*
 * django_chatkit live updates: keeps a WebSocket to the server open and, when it says a
 * thread changed (a staff reply, a background job), calls fetchUpdates() on each
 * <openai-chatkit> element showing that thread, so the new items appear at once.
 *
 * Loaded by {% chatkit %} after chatkit.js, as
 *   <script src=".../live.js" defer data-django-chatkit-live="/chatkit/live/"></script>
 * The socket (django_chatkit.consumers.LiveUpdatesConsumer) uses the session cookie and
 * only carries thread ids; the items themselves come through the ChatKit endpoint.
 * Messages: {"type": "thread.updated", "thread_id": "thr_...", "scope": ""}.
 *
 * The socket reconnects with a growing delay and then fetches once, in case it missed
 * something. If it never connects (live updates not routed, or not logged in), it stops
 * after a few tries.
 */
(function () {
  "use strict";

  var ELEMENT = "openai-chatkit";
  var MAX_DELAY_MS = 60000;
  var GIVE_UP_AFTER = 4; // failed attempts before the first successful connection

  var script = document.currentScript;
  var path = script && script.getAttribute("data-django-chatkit-live");
  if (!path || !window.WebSocket) {
    return;
  }

  var tracked = [];

  function track(chatkit) {
    if (!chatkit || chatkit.__djangoChatkitLive) {
      return;
    }
    var state = { chatkit: chatkit, threadId: undefined, responding: false, pending: false };
    chatkit.__djangoChatkitLive = state;
    chatkit.addEventListener("chatkit.thread.change", function (event) {
      state.threadId = event.detail ? event.detail.threadId : null;
    });
    chatkit.addEventListener("chatkit.response.start", function () {
      state.responding = true;
    });
    chatkit.addEventListener("chatkit.response.end", function () {
      state.responding = false;
      if (state.pending) {
        refresh(state);
      }
    });
    tracked.push(state);
  }

  function refresh(state) {
    // A chat that is streaming an answer gets the update when the answer ends.
    if (state.responding) {
      state.pending = true;
      return;
    }
    state.pending = false;
    if (typeof state.chatkit.fetchUpdates === "function") {
      Promise.resolve(state.chatkit.fetchUpdates()).catch(function (error) {
        console.warn("django_chatkit: fetchUpdates() failed", error);
      });
    }
  }

  function notify(threadId) {
    tracked.forEach(function (state) {
      // undefined: the element has not said which thread it shows yet.
      if (state.threadId === undefined || (threadId && state.threadId === threadId)) {
        refresh(state);
      }
    });
  }

  function socketUrl() {
    var url = new URL(path, window.location.href);
    if (url.protocol === "https:") {
      url.protocol = "wss:";
    } else if (url.protocol === "http:") {
      url.protocol = "ws:";
    }
    return url.href;
  }

  var failures = 0;
  var connectedOnce = false;
  var connected = false;

  function connect() {
    var socket = new WebSocket(socketUrl());
    var opened = false;
    socket.addEventListener("open", function () {
      opened = true;
      connected = true;
      failures = 0;
      if (connectedOnce) {
        tracked.forEach(refresh); // catch up on what happened while disconnected
      }
      connectedOnce = true;
    });
    socket.addEventListener("message", function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message && message.type === "thread.updated") {
        notify(message.thread_id);
      }
    });
    socket.addEventListener("close", function () {
      connected = false;
      if (!opened) {
        failures += 1;
        if (!connectedOnce && failures >= GIVE_UP_AFTER) {
          console.warn("django_chatkit: live updates unavailable at " + path);
          return;
        }
      }
      var delay = Math.min(MAX_DELAY_MS, 1000 * Math.pow(2, failures));
      window.setTimeout(connect, delay * (0.5 + Math.random() / 2));
    });
  }

  document.addEventListener("django-chatkit:ready", function (event) {
    track(event.detail && event.detail.chatkit);
  });
  document.querySelectorAll(ELEMENT).forEach(track);
  connect();

  // track(): for pages that create their own <openai-chatkit> element after this ran.
  window.djangoChatkitLive = {
    track: track,
    isConnected: function () {
      return connected;
    },
  };
})();
