"""Step-up verification of a customer identified only by a typed CPF/CNPJ.

A CPF is no secret in Brazil (leaked lists are everywhere), so before the
bot shows invoices or contract details, or changes something in the ERP, it
asks for a one-time code sent to the WhatsApp number or e-mail the ERP has on
record. On WhatsApp, Meta has already verified the sender's number: when it
matches the customer's record there is nothing more to ask.

- :mod:`bot.verification.settings`: the ``STEP_UP_*`` and ``SMTP_*`` settings.
- :mod:`bot.verification.codes`: codes in Redis (hashed, TTL, tries, rate limit).
- :mod:`bot.verification.delivery`: WhatsApp authentication template or e-mail.
"""
