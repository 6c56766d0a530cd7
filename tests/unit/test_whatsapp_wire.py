"""Bot messages shaped for the WhatsApp Cloud API limits (channels/whatsapp/wire.py)."""
from channels.whatsapp.wire import (
    MENU_HINT,
    menu_choice,
    split_text,
    text_body,
    with_buttons,
)


def buttons(count, title="Opcao"):
    return [{"title": f"{title} {n}" if "{" not in title else title.format(n), "payload": f"/choice{{\"n\": \"{n}\"}}"} for n in range(1, count + 1)]


def test_short_text_is_one_part():
    assert split_text("oi") == ["oi"]
    assert split_text("") == []


def test_long_text_splits_at_lines_then_words_within_the_limit():
    paragraph = "linha " * 30
    text = "\n".join([paragraph.strip()] * 400)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(len(part) <= 4096 for part in parts)
    assert all(part.endswith("linha") for part in parts)  # never a cut word
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())

    words = split_text("palavra " * 1000)
    assert all(len(p) <= 4096 and p.endswith("palavra") for p in words)

    assert split_text("x" * 5000) == ["x" * 4096, "x" * 904]


def test_up_to_three_buttons_become_reply_buttons_with_cut_titles():
    bodies, menu = with_buttons(
        "Posso ajudar?",
        [{"title": "Sim", "payload": "/affirm"},
         {"title": "Nao, obrigado, ja resolvi tudo", "payload": "/deny"}],
    )
    assert menu == []
    [body] = bodies
    assert body["type"] == "interactive"
    interactive = body["interactive"]
    assert interactive["type"] == "button"
    assert interactive["body"] == {"text": "Posso ajudar?"}
    replies = [b["reply"] for b in interactive["action"]["buttons"]]
    assert [r["id"] for r in replies] == ["/affirm", "/deny"]
    assert replies[1]["title"] == "Nao, obrigado, ja..." and len(replies[1]["title"]) <= 20
    assert all(b["type"] == "reply" for b in interactive["action"]["buttons"])


def test_four_to_ten_buttons_become_a_list_with_row_limits():
    choices = buttons(9, title="Fatura {} com vencimento em dezembro")
    [body], menu = with_buttons("Qual fatura?", choices)
    assert menu == []
    interactive = body["interactive"]
    assert interactive["type"] == "list"
    assert len(interactive["action"]["button"]) <= 20
    rows = interactive["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [c["payload"] for c in choices]
    assert all(len(r["title"]) <= 24 and len(r.get("description", "")) <= 72 for r in rows)
    assert rows[0]["title"] == "Fatura 1 com vencimen..."
    assert rows[0]["description"] == "Fatura 1 com vencimento em dezembro"


def test_more_than_ten_buttons_become_a_numbered_menu():
    choices = buttons(12)
    bodies, menu = with_buttons("Escolha:", choices)
    assert menu == [c["payload"] for c in choices]
    [body] = bodies
    text = body["text"]["body"]
    assert text.startswith("Escolha:\n1. Opcao 1\n2. Opcao 2")
    assert "12. Opcao 12" in text and text.endswith(MENU_HINT)


def test_duplicate_or_too_long_ids_fall_back_to_what_fits():
    same_title = [{"title": "Venc. 10/12", "payload": "/a"}, {"title": "Venc. 10/12", "payload": "/b"}]
    [body], _ = with_buttons("?", same_title)
    assert body["interactive"]["type"] == "list"  # WhatsApp rejects equal button titles
    long_id = [{"title": "A", "payload": "/x" + "a" * 220}, {"title": "B", "payload": "/b"}]
    [body], menu = with_buttons("?", long_id)
    assert body["interactive"]["type"] == "button" and menu == []  # ids up to 256 in buttons
    too_long_for_list = [{"title": f"T{n}", "payload": "/x" * 101 + str(n)} for n in range(5)]
    assert with_buttons("?", too_long_for_list)[1]  # rows allow 200: numbered menu


def test_text_too_long_for_an_interactive_body_goes_first():
    text = "a " * 700
    bodies, _ = with_buttons(text, buttons(2))
    assert bodies[0] == text_body(text.strip())
    assert bodies[1]["interactive"]["body"]["text"] == "Escolha uma opcao:"


def test_menu_choice_maps_the_number_back_to_the_payload():
    menu = ["/a", "/b", "/c"]
    assert menu_choice("2", menu) == "/b"
    assert menu_choice(" 3. ", menu) == "/c"
    assert menu_choice("4", menu) is None
    assert menu_choice("0", menu) is None
    assert menu_choice("2 boletos", menu) is None
    assert menu_choice("1", []) is None
