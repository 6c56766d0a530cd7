"""`rasa run` on a trained model as a test or bench sees it: start, its HTTP API, one turn."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List

import requests

from testing.processes import VENV_BIN, Service, free_port


class RasaServer(Service):
    """`rasa run --enable-api --auth-token` on the test model, Redis stores, real actions."""

    def __init__(self, model: Path, env: Dict[str, str], log_dir: Path, name: str = "rasa"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = env["RASA_API_TOKEN"]
        super().__init__(
            name,
            [VENV_BIN / "rasa", "run", "--enable-api", "--port", str(self.port),
             "--model", str(model), "--endpoints", "endpoints.yml",
             "--credentials", "credentials.yml", "--debug",
             "--logging-config-file", "logging.yml", "--auth-token", self.token],
            env,
            log_dir,
        )

    def start(self, ready_url: str = "", timeout: float = 180) -> "RasaServer":
        super().start(ready_url or f"{self.url}/status?token={self.token}", timeout)
        return self

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        """Rasa's HTTP API (``/conversations/...``, ``/status``...) with the token."""
        kwargs["params"] = {**(kwargs.get("params") or {}), "token": self.token}
        kwargs.setdefault("timeout", 30)
        return requests.request(method, f"{self.url}{path}", **kwargs)

    def restart(self) -> None:
        self.stop()
        self.start()

    def send(self, sender: str, message: str) -> List[dict]:
        """A customer's message through Rasa's REST webhook (channels/rasa_rest.py); the bot's replies.

        Sends the server's first ``CHAT_API_KEYS`` key; over the per-sender
        rate limit it waits ``Retry-After`` once, as a client should.
        """
        for attempt in range(2):
            response = requests.post(
                f"{self.url}/webhooks/rest/webhook",
                json={"sender": sender, "message": message},
                headers=self.chat_headers(),
                timeout=60,
            )
            if response.status_code != 429 or attempt:
                break
            time.sleep(int(response.headers.get("Retry-After", "1")))
        response.raise_for_status()
        return response.json()

    def chat_headers(self) -> Dict[str, str]:
        """``Authorization`` with the first of ``CHAT_API_KEYS`` (none when unset)."""
        key = (self.env.get("CHAT_API_KEYS") or "").split(",")[0].strip()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def tracker(self, sender: str) -> dict:
        response = self.api("GET", f"/conversations/{sender}/tracker")
        response.raise_for_status()
        return response.json()


async def agent_with_actions(model: Path, env: Dict[str, str]):
    """The model loaded in this process (in-memory stores), its custom actions
    called on the action server of ``env`` with its token, as ``rasa run`` would."""
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    endpoint = EndpointConfig(env["ACTION_SERVER_URL"],
                              headers={"Authorization": f"Bearer {env['ACTION_SERVER_TOKEN']}"})
    return await load_agent(model_path=str(model), endpoints=AvailableEndpoints(action=endpoint))
