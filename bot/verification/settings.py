"""Settings of the step-up check (``STEP_UP_*``) and of the e-mail it sends (``SMTP_*``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Optional

from bot.settings import SettingsError, env_bool, env_float, env_int, env_str

# Every action that reads or changes the customer's record (domain.yml).
CUSTOMER_ACTIONS = frozenset({
    "action_invoice", "action_payment_done", "action_trust_unlock",
    "action_no_connection", "action_slow_connection", "action_outage",
    "action_wifi_password", "action_plan_change", "action_cancellation",
    "action_address_change", "action_technical_visit", "action_ticket_status",
    "action_due_date_change",
})


def step_up_actions(raw: Optional[str]) -> FrozenSet[str]:
    """``STEP_UP_ACTIONS``: unset means every customer action; ``none`` turns the check off."""
    raw = (raw or "").strip()
    if not raw:
        return CUSTOMER_ACTIONS
    if raw.lower() == "none":
        return frozenset()
    names = frozenset(name.strip() for name in raw.split(",") if name.strip())
    unknown = sorted(names - CUSTOMER_ACTIONS)
    if unknown:
        raise SettingsError(
            f"STEP_UP_ACTIONS names unknown actions {unknown}; "
            f"choose among {sorted(CUSTOMER_ACTIONS)} or 'none'"
        )
    return names


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""
    port: int = 587
    user: str = ""
    password: str = ""
    sender: str = ""
    starttls: bool = True
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.host and self.sender)

    @classmethod
    def from_env(cls) -> "SmtpSettings":
        host, sender = env_str("SMTP_HOST"), env_str("SMTP_FROM")
        if host and not sender:
            raise SettingsError("SMTP_FROM must be set when SMTP_HOST is (the codes' sender address)")
        return cls(
            host=host,
            port=env_int("SMTP_PORT", 587, 1),
            user=env_str("SMTP_USER"),
            password=env_str("SMTP_PASSWORD"),
            sender=sender,
            starttls=env_bool("SMTP_STARTTLS", True),
            timeout_seconds=env_float("SMTP_TIMEOUT_SECONDS", 10.0, 0.1),
        )


@dataclass(frozen=True)
class StepUpSettings:
    actions: FrozenSet[str]
    code_ttl_seconds: int = 300
    max_attempts: int = 3
    codes_per_hour: int = 5  # per document, across conversations
    whatsapp_template: str = "codigo_verificacao"
    smtp: SmtpSettings = SmtpSettings()

    @classmethod
    def from_env(cls) -> "StepUpSettings":
        return cls(
            actions=step_up_actions(env_str("STEP_UP_ACTIONS")),
            code_ttl_seconds=env_int("STEP_UP_CODE_TTL_SECONDS", 300, 30),
            max_attempts=env_int("STEP_UP_MAX_ATTEMPTS", 3, 1),
            codes_per_hour=env_int("STEP_UP_CODES_PER_HOUR", 5, 1),
            whatsapp_template=env_str("STEP_UP_WHATSAPP_TEMPLATE", "codigo_verificacao"),
            smtp=SmtpSettings.from_env(),
        )

    def applies_to(self, action: Optional[str]) -> bool:
        """Whether ``action`` needs the check; ``None`` (identification alone) does
        whenever any action does, because greeting by name confirms the document."""
        return bool(self.actions) if action is None else action in self.actions
