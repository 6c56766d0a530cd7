"""What the bot tells a customer about a file it cannot use, the same on every channel
(``bot.media.understanding``; WhatsApp's replies to message types in ``channels/whatsapp/inbound.py``)."""

BOLETO_UNREADABLE = ("Recebi a foto do boleto, mas nao consegui ler o codigo de barras. Manda uma foto nitida "
                     "do codigo de barras, de frente e sem reflexo, ou me pede a 2a via.")
NOT_HEARD = "Nao consegui ouvir seu audio agora, desculpa. Pode me escrever o que voce precisa?"
TOO_LONG = ("Seu audio passou de {minutes} de duracao e nao consegui ouvir. Pode me mandar um audio mais "
            "curto ou escrever o que voce precisa?")
NOT_READ = {  # by the file's kind
    "video": "Ainda nao consigo assistir videos. Pode me escrever o que voce precisa?",
    "sticker": "Adorei a figurinha! Me conta por escrito como posso te ajudar.",
    "document": "Recebi seu arquivo, mas so consigo abrir PDF e fotos. Me conta por escrito o que voce precisa?",
}
