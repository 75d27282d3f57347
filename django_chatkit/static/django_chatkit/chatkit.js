/*
 * django_chatkit: mounts OpenAI's <openai-chatkit> web component in every container
 * rendered by {% chatkit %} (elements with a data-django-chatkit attribute).
 *
 * - The component talks to the Django endpoint with a fetch that sends the session
 *   cookie and the CSRF token.
 * - Before it starts, a "django-chatkit:configure" event (detail: {options, container})
 *   lets page scripts change the options, e.g. add onClientTool; afterwards
 *   "django-chatkit:ready" (detail: {chatkit, options, container}) hands over the element.
 * - If the component's script (OpenAI's CDN) cannot load, the container shows its error
 *   message instead of spinning forever.
 * - Every container found is marked (data-django-chatkit-state="starting"): the tag's
 *   inline check shows its static-files message on containers this script never saw.
 * - A request the endpoint refuses with 429 (rate_limited, quota_exceeded) reaches the
 *   component as a stream with one "error" event carrying the server's message, which
 *   the chat shows in place of the answer (a bare 429 would show a generic error).
 */
(function () {
  "use strict";

  var ELEMENT = "openai-chatkit";
  // After the window's load event the async CDN script has run or failed; give a
  // script that defines the element late a little more time.
  var GRACE_MS = 3000;

  var REFUSALS = { rate_limited: true, quota_exceeded: true };

  // A 429 JSON refusal as the stream the component reads: one "error" event with the
  // server's message (the widget shows it), no retry offered.
  function asErrorStream(response) {
    return response.clone().json().then(function (body) {
      if (!body || !REFUSALS[body.error]) {
        return response;
      }
      var event = { type: "error", code: "custom", message: body.message, allow_retry: false };
      var headers = new Headers({ "Content-Type": "text/event-stream" });
      var retryAfter = response.headers.get("Retry-After");
      if (retryAfter) {
        headers.set("Retry-After", retryAfter);
      }
      return new Response("data: " + JSON.stringify(event) + "\n\n", {
        status: 200,
        headers: headers,
      });
    }, function () {
      return response;
    });
  }

  function pathOf(url) {
    return new URL(url, window.location.href).pathname;
  }

  function csrfFetch(csrf, endpoint) {
    return function (input, init) {
      init = init || {};
      var headers = new Headers(init.headers || {});
      if (csrf && csrf.token) {
        headers.set(csrf.headerName, csrf.token);
      }
      return window.fetch(input, Object.assign({}, init, {
        headers: headers,
        credentials: "same-origin",
      })).then(function (response) {
        // Only the protocol endpoint streams; an upload's 429 stays JSON.
        var url = typeof input === "string" ? input : input.url;
        var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        var streams = endpoint && pathOf(url) === pathOf(endpoint);
        return response.status === 429 && json && streams ? asErrorStream(response) : response;
      });
    };
  }

  function show(container, selector, visible) {
    var element = container.querySelector(selector);
    if (element) {
      element.hidden = !visible;
    }
  }

  function fail(container) {
    if (container.dataset.djangoChatkitState === "mounted") {
      return;
    }
    container.dataset.djangoChatkitState = "failed";
    show(container, ".django-chatkit-loading", false);
    show(container, ".django-chatkit-error", true);
  }

  function mount(container) {
    if (container.dataset.djangoChatkitState === "mounted") {
      return;
    }
    var config = JSON.parse(container.getAttribute("data-django-chatkit"));
    var api = Object.assign({}, config.api, { fetch: csrfFetch(config.csrf, config.api.url) });
    var options = Object.assign({}, config.options, { api: api });

    var configure = new CustomEvent("django-chatkit:configure", {
      bubbles: true,
      detail: { options: options, container: container },
    });
    container.dispatchEvent(configure);
    options = configure.detail.options;

    var chatkit = document.createElement(ELEMENT);
    chatkit.style.display = "block";
    chatkit.style.height = "100%";
    chatkit.setOptions(options);
    show(container, ".django-chatkit-loading", false);
    show(container, ".django-chatkit-error", false);
    container.appendChild(chatkit);
    container.dataset.djangoChatkitState = "mounted";
    container.dispatchEvent(new CustomEvent("django-chatkit:ready", {
      bubbles: true,
      detail: { chatkit: chatkit, options: options, container: container },
    }));
  }

  function start() {
    var containers = Array.prototype.slice.call(
      document.querySelectorAll("[data-django-chatkit]")
    );
    if (!containers.length) {
      return;
    }
    containers.forEach(function (container) {
      container.dataset.djangoChatkitState = container.dataset.djangoChatkitState || "starting";
    });
    var failAll = function () {
      if (!window.customElements.get(ELEMENT)) {
        containers.forEach(fail);
      }
    };
    window.customElements.whenDefined(ELEMENT).then(function () {
      containers.forEach(mount);
    });
    document.querySelectorAll("script[data-django-chatkit-script]").forEach(function (script) {
      script.addEventListener("error", failAll);
    });
    var later = function () {
      window.setTimeout(failAll, GRACE_MS);
    };
    if (document.readyState === "complete") {
      later();
    } else {
      window.addEventListener("load", later);
    }
  }

  start();
})();
