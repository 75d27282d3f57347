/* The demo's client tool: the agent's switch_theme tool runs here, in the browser. */
(function () {
  "use strict";
  var chatkit = null;
  var options = null;

  document.addEventListener("django-chatkit:configure", function (event) {
    options = event.detail.options;
    options.onClientTool = async function (toolCall) {
      if (toolCall.name === "switch_theme") {
        var scheme = toolCall.params.theme === "dark" ? "dark" : "light";
        document.documentElement.dataset.theme = scheme;
        options.theme = Object.assign({}, options.theme, { colorScheme: scheme });
        if (chatkit) {
          chatkit.setOptions(options);
        }
        return { theme: scheme };
      }
      throw new Error("Unknown client tool: " + toolCall.name);
    };
  });

  document.addEventListener("django-chatkit:ready", function (event) {
    chatkit = event.detail.chatkit;
  });
})();
