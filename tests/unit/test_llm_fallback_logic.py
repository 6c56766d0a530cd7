"""Pure parts of the fallback: counting fallbacks in a row, the export YAML, the summary."""
import yaml

from actions.fallback import fallbacks_in_a_row
from bot.llm.fallbacks import to_nlu_yaml
from bot.llm.summary import deterministic_summary


def _turn(text, action):
    return [{"event": "user", "text": text}, {"event": "action", "name": action},
            {"event": "bot", "text": "..."}, {"event": "action", "name": "action_listen"}]


def test_fallbacks_in_a_row_counts_only_the_latest_streak():
    events = (_turn("oi", "utter_greet") + _turn("xpto", "action_llm_fallback")
              + _turn("boleto", "action_send_invoice") + _turn("abc", "action_llm_fallback")
              + _turn("def", "action_llm_fallback") + [{"event": "user", "text": "ghi"}])
    assert fallbacks_in_a_row(events) == 2
    assert fallbacks_in_a_row(events[:-1] + _turn("ok", "utter_greet") + [{"event": "user"}]) == 0
    restarted = events[:-1] + [{"event": "session_started"}] + [{"event": "user"}]
    assert fallbacks_in_a_row(restarted) == 0


def test_export_is_valid_nlu_yaml_grouped_by_guess_with_comments():
    entries = [
        {"text": "qto ta o de 700", "intents": [["nlu_fallback", 0.4], ["ask_plans", 0.33], ["request_plan_change", 0.2]], "source": "knowledge"},
        {"text": "qto ta o de 700", "intents": [["ask_plans", 0.35]], "source": "llm"},
        {"text": "meu cachorro fugiu", "intents": [], "source": "not_understood"},
        {"text": "cpf ***.982.247-** e o boleto?", "intents": [["request_invoice", 0.3]], "source": "knowledge"},
    ]
    text = to_nlu_yaml(entries)
    data = yaml.safe_load(text)
    blocks = {block["intent"]: block["examples"] for block in data["nlu"]}
    assert blocks["ask_plans"] == "- qto ta o de 700\n"
    assert "meu cachorro fugiu" in blocks["out_of_scope"]
    assert "ask_plans 0.33, request_plan_change 0.20; 2x; respondido por: knowledge, llm" in text
    assert yaml.safe_load(to_nlu_yaml([]))["nlu"] == []


def test_deterministic_summary_masks_and_says_what_was_tried():
    turns = [("user", "oi"), ("bot", "Oi! Como posso ajudar?"),
             ("user", "minha net cai toda hora, cpf 52998224725"),
             ("bot", "Fiz um teste na sua conexao. Esta tudo certo daqui."),
             ("user", "atendente")]
    summary = deterministic_summary(turns, [("cpf", "52998224725")])
    assert "52998224725" not in summary
    assert "Problema: minha net cai toda hora" in summary
    assert "Fiz um teste na sua conexao." in summary
    assert summary.splitlines()[-1].startswith("Dados: cpf: ***.982.247-**")
