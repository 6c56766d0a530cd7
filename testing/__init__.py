"""What tests and benches share: starting the real processes, fake ERP/Meta/OpenAI/SMTP
servers that speak the real wire format, and channel clients.

Tests (``tests/``) and benches (``bench/``) both import from here and never from
each other.
"""
