"""What every chat connector shares (REST, Rasa's REST webhook, WebSocket, socket.io; WhatsApp and the desk use the errors).

- ``errors.py``: the one mapping of :mod:`bot.errors` to HTTP statuses and JSON bodies;
- ``http.py``: API keys, the rate limit, JSON bodies, the turn as HTTP, JSON 405s;
- ``turn.py``: one customer turn through Rasa, with metrics and honest failures;
- ``output.py``: bot messages as the chat API shows them, and their output channels;
- ``health.py``: ``GET /health`` and ``GET /metrics``;
- ``settings.py``: ``ChatSettings`` (``CHAT_*``, ``WEBSOCKET_*``, ``SOCKETIO_*``, ``WIDGET_*``).
"""
