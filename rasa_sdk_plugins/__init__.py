"""rasa-sdk plugins of this project.

rasa-sdk 3.6 (``rasa_sdk/plugin.py``) imports a top-level package named
``rasa_sdk_plugins`` and calls :func:`init_hooks`; ``rasa run actions``
started from the project root finds this one (Rasa puts the working directory
on ``sys.path``). So plain ``rasa run actions``, as bot designers run it,
checks ``ACTION_SERVER_TOKEN`` before any action runs.
"""
try:
    from rasa_sdk_plugins import action_server_guard
except ModuleNotFoundError as error:
    # rasa-sdk silently ignores a ModuleNotFoundError from this import: an
    # action server without its guard must not start, so make it loud.
    raise ImportError(f"rasa_sdk_plugins could not load its guard: {error}") from error


def init_hooks(manager) -> None:
    manager.register(action_server_guard)
