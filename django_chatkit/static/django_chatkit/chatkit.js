/*
 * django_chatkit: mounts OpenAI's <openai-chatkit> web component in every container
 * rendered by {% chatkit %} (elements with a data-django-chatkit attribute).
 *
 * - The component talks to the Django endpoint with a fetch that sends the session
 *   cookie and the CSRF token.
 * - Stop: ChatKit aborts the signal of a streaming request's fetch when the user presses
 *   Stop. The fetch then POSTs the endpoint's cancel URL for that thread (its id is in
 *   the request body, or, for threads.create, in the stream's first frame, which it
 *   reads on even after the abort until it has the id), so a durable answer stops too.
 *   A closed tab or a reload aborts nothing: the answer runs on.
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

  // The requests that answer with a stream (the SDK's StreamingReq).
  var STREAMING = [
    "threads.create",
    "threads.add_user_message",
    "threads.add_client_tool_output",
    "threads.add_structured_input",
    "threads.retry_after_item",
    "threads.custom_action",
  ];

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

  function abortError() {
    return new DOMException("The user aborted a request.", "AbortError");
  }

  // The request's type and thread id, when its body is a ChatKit request.
  function parseRequest(body) {
    try {
      var request = JSON.parse(body);
      var params = request.params || {};
      return { type: request.type, threadId: params.thread_id || null };
    } catch (error) {
      return { type: null, threadId: null };
    }
  }

  // The thread id of an SSE frame ("data: {...}") when it is thread.created.
  function createdThreadId(frame) {
    var data = frame.split("\n").filter(function (line) {
      return line.indexOf("data:") === 0;
    }).map(function (line) {
      return line.slice(5);
    }).join("\n");
    try {
      var event = JSON.parse(data);
      return event.type === "thread.created" && event.thread ? event.thread.id : null;
    } catch (error) {
      return null;
    }
  }

  // A fetch whose aborted streaming requests also stop the answer on the server:
  // cancel(threadId) is sent once the thread is known (see the comment at the top). The
  // real fetch has a signal of its own, aborted only once the cancel is sent; ChatKit
  // gets a copy of the stream that fails as soon as its own signal aborts.
  function stoppableFetch(send, cancel) {
    return function (input, init) {
      init = init || {};
      var signal = init.signal;
      var request = parseRequest(init.body);
      if (!signal || STREAMING.indexOf(request.type) === -1) {
        return send(input, init);
      }
      var inner = new AbortController();
      var threadId = request.threadId;
      var looking = !threadId; // for the thread id in the stream's first frame
      var stopped = false;
      var over = false; // the answer ended, or the cancel went out: nothing more to send
      var body = null; // the controller of the stream ChatKit reads
      var reading = false; // a read of the real stream is under way
      var drain = null; // reads on after Stop, until the thread is known

      var finish = function () {
        if (!over) {
          over = true;
          if (threadId) {
            cancel(threadId);
          }
        }
        inner.abort();
      };
      var end = function () {
        over = true;
        signal.removeEventListener("abort", onAbort);
      };
      var settled = false;
      var settle = null;
      var onAbort = function () {
        stopped = true;
        if (!settled) {
          settled = true;
          settle.reject(abortError());
        }
        if (body) {
          try {
            body.error(abortError());
          } catch (error) { /* already closed */ }
        }
        if (!looking) {
          finish();
        } else if (drain && !reading) {
          drain();
        }
      };
      return new Promise(function (resolve, reject) {
        settle = { resolve: resolve, reject: reject };
        if (signal.aborted) {
          onAbort();
        } else {
          signal.addEventListener("abort", onAbort);
        }
        send(input, Object.assign({}, init, { signal: inner.signal })).then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (!response.body || type.indexOf("text/event-stream") !== 0) {
            end(); // an error answer: nothing runs on the server
            inner.abort();
            if (!settled) {
              settled = true;
              resolve(response);
            }
            return;
          }
          var reader = response.body.getReader();
          var decoder = new TextDecoder();
          var buffer = "";
          var scan = function (part) {
            if (part.done) {
              looking = false;
            } else if (looking) {
              buffer += decoder.decode(part.value, { stream: true });
              var frameEnd = buffer.indexOf("\n\n");
              if (frameEnd !== -1) {
                threadId = createdThreadId(buffer.slice(0, frameEnd));
                looking = false;
                buffer = "";
              }
            }
          };
          drain = function () {
            if (!looking) {
              finish();
              return;
            }
            reading = true;
            reader.read().then(function (part) {
              reading = false;
              scan(part);
              drain();
            }, finish);
          };
          if (stopped) {
            drain();
            return;
          }
          settled = true;
          resolve(new Response(new ReadableStream({
            start: function (controller) {
              body = controller;
            },
            pull: function (controller) {
              reading = true;
              return reader.read().then(function (part) {
                reading = false;
                scan(part);
                if (stopped) {
                  drain();
                } else if (part.done) {
                  end();
                  controller.close();
                } else {
                  controller.enqueue(part.value);
                }
              }, function (error) {
                reading = false;
                if (!stopped) {
                  end();
                  controller.error(error);
                }
              });
            },
            cancel: function (reason) {
              end();
              return reader.cancel(reason);
            },
          }), {
            status: response.status,
            statusText: response.statusText,
            headers: response.headers,
          }));
        }, function (error) {
          if (!stopped) {
            end();
          } else {
            finish(); // aborted before the answer started: its thread (if any) is unknown
          }
          if (!settled) {
            settled = true;
            reject(error);
          }
        });
      });
    };
  }

  // POSTs the cancel URL of a thread (keepalive: it outlives a page that unloads next).
  function cancelRequest(csrf, cancelUrl, placeholder) {
    var post = csrfFetch(csrf);
    return function (threadId) {
      var url = cancelUrl.split(placeholder).join(encodeURIComponent(threadId));
      post(url, { method: "POST", keepalive: true }).catch(function () { /* offline */ });
    };
  }

  function chatkitFetch(config) {
    var send = csrfFetch(config.csrf, config.api.url);
    var stop = config.stop;
    if (!stop || !stop.url) {
      return send;
    }
    return stoppableFetch(send, cancelRequest(config.csrf, stop.url, stop.placeholder));
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
    var api = Object.assign({}, config.api, { fetch: chatkitFetch(config) });
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
