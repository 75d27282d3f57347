"""The demo page: the ChatKit UI for the logged-in user."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .agent import offline

# Options handed to the ChatKit web component ({% chatkit options=... %}).
CHATKIT_OPTIONS = {
    "history": {"enabled": True},
    "theme": {"colorScheme": "light"},
    "startScreen": {
        "greeting": "A to-do assistant on django_chatkit",
        "prompts": [
            {"label": "Add a to-do", "prompt": "Add a to-do: buy oat milk", "icon": "check"},
            {"label": "To-do report", "prompt": "Show my to-do report", "icon": "chart"},
            {"label": "Dark mode", "prompt": "Switch to dark mode", "icon": "sparkle"},
        ],
    },
    "composer": {"placeholder": "Ask the to-do assistant…"},
}


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "example_project/index.html",
        {
            "chatkit_options": CHATKIT_OPTIONS,
            "offline": offline(),
            "model": getattr(settings, "DEMO_OPENAI_MODEL", ""),
        },
    )
