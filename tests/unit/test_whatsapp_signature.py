"""Meta's X-Hub-Signature-256 (channels/whatsapp/signature.py)."""
from channels.whatsapp.signature import sign, valid_signature


def test_only_the_right_secret_and_body_pass():
    body = b'{"object": "whatsapp_business_account"}'
    header = sign("app-secret", body)
    assert header.startswith("sha256=") and valid_signature("app-secret", body, header)
    assert valid_signature("app-secret", body, header.upper().replace("SHA256=", "sha256="))
    assert not valid_signature("app-secret", body + b" ", header)
    assert not valid_signature("other-secret", body, header)
    assert not valid_signature("", body, sign("", body))  # no secret configured: nothing passes
    for bad in (None, "", "md5=abc", header[len("sha256="):]):
        assert not valid_signature("app-secret", body, bad)
