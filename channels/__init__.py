"""Rasa input/output connectors, loaded by module path from credentials.yml.

WhatsApp Cloud API, the REST chat API, socket.io and WebSocket connectors and
the atendentes' desk land here (issues 4 and 5). Connectors import ``bot``;
nothing here is imported by ``actions`` (they run in another process).
"""
