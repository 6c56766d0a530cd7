"""A local IXC Provedor webservice speaking the real wire format (docs/ixc-webservice.md).

Tables hold rows with string values, as IXC returns them. Listing is POST/GET
with header ``ixcsoft: listar``; errors come back with HTTP 200 and
``{"type": "error"}``; a wrong token gets HTTP 401 with an HTML body.
``fail_next`` makes the next N requests answer 503, ``delay`` slows every answer.
"""
from __future__ import annotations

import base64
import json
import operator
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List

USER, TOKEN = "53", "s3cr3t-token"


def seed_tables() -> Dict[str, List[Dict[str, str]]]:
    return {
        "cliente": [
            {"id": "6", "razao": "MARIA APARECIDA DA SILVA", "fantasia": "", "cnpj_cpf": "529.982.247-25",
             "telefone_celular": "(11) 98765-0001", "whatsapp": "", "fone": "", "email": "maria@example.com",
             "ativo": "S", "tipo_pessoa": "F", "cidade": "3550"},
            {"id": "7", "razao": "PADARIA PAO QUENTE LTDA", "fantasia": "Pao Quente", "cnpj_cpf": "11.222.333/0001-81",
             "telefone_celular": "", "whatsapp": "(11) 8765-0004", "fone": "", "email": "", "ativo": "S",
             "tipo_pessoa": "J", "cidade": "3550"},
        ],
        "cliente_contrato": [
            {"id": "2309", "id_cliente": "6", "contrato": "FIBRA 500 MEGA", "status": "A", "status_internet": "FA",
             "status_velocidade": "N", "endereco": "RUA DAS FLORES", "numero": "10", "bairro": "VILA NOVA",
             "cidade": "3550", "cep": "04000-000", "desbloqueio_confianca": "S"},
            {"id": "2310", "id_cliente": "7", "contrato": "FIBRA 1 GIGA", "status": "A", "status_internet": "A",
             "status_velocidade": "N", "endereco": "AV CENTRAL", "numero": "200", "bairro": "CENTRO",
             "cidade": "3550", "cep": "01000-000", "desbloqueio_confianca": "N"},
        ],
        "fn_areceber": [
            {"id": "145535", "id_cliente": "6", "id_contrato": "", "id_contrato_avulso": "2309", "liberado": "S",
             "status": "A", "data_vencimento": "2026-10-10", "valor": "119.90", "valor_aberto": "119.90",
             "linha_digitavel": "34191.09008 14553.502309 71234.560005 1 25960000011990",
             "gateway_link": "https://gateway.example/boleto/145535", "pix_txid": ""},
            {"id": "145600", "id_cliente": "6", "id_contrato": "2309", "id_contrato_avulso": "", "liberado": "S",
             "status": "A", "data_vencimento": "2026-12-10", "valor": "119.90", "valor_aberto": "119.90",
             "linha_digitavel": "34191.09008 14560.002309 71234.560005 2 26560000011990",
             "gateway_link": "", "pix_txid": ""},
            {"id": "145400", "id_cliente": "6", "id_contrato": "2309", "id_contrato_avulso": "", "liberado": "S",
             "status": "R", "data_vencimento": "2026-09-10", "valor": "119.90", "valor_aberto": "0.00",
             "linha_digitavel": "", "gateway_link": "", "pix_txid": ""},
            {"id": "145401", "id_cliente": "6", "id_contrato": "2309", "id_contrato_avulso": "", "liberado": "N",
             "status": "A", "data_vencimento": "2027-01-10", "valor": "119.90", "valor_aberto": "119.90",
             "linha_digitavel": "", "gateway_link": "", "pix_txid": ""},
        ],
        "radusuarios": [
            {"id": "900", "id_contrato": "2309", "id_cliente": "6", "login": "maria.silva", "online": "N",
             "ultima_conexao_inicial": "2026-11-24 08:00:00", "ultima_conexao_final": "2026-11-25 03:12:44",
             "ativo": "S", "senha": "never-expose-me"},
            {"id": "901", "id_contrato": "2310", "id_cliente": "7", "login": "paoquente", "online": "SS",
             "ultima_conexao_inicial": "2026-11-25 06:00:00", "ultima_conexao_final": "", "ativo": "S"},
        ],
        "contato": [],
        "su_ticket": [
            {"id": "501", "id_cliente": "6", "id_contrato": "2309", "titulo": "Sem conexao", "menssagem": "cliente sem net",
             "su_status": "EP", "status": "T", "protocolo": "202611200501", "data_criacao": "2026-11-20 10:00:00"},
        ],
        "vd_contratos": [
            {"id": "2", "nome": "FIBRA 1 GIGA", "valor_contrato": "179.90", "ativo": "S", "descricao": ""},
            {"id": "1", "nome": "FIBRA 500 MEGA", "valor_contrato": "119.90", "ativo": "S", "descricao": "Wi-Fi 6"},
        ],
    }


def _matches(row: Dict[str, str], field: str, oper: str, value: str) -> bool:
    actual = row.get(field, "")
    if oper == "=":
        return actual == value
    if oper == "!=":
        return actual != value
    if oper == "L":
        return value.lower() in actual.lower()
    compare = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le}
    return compare[oper](actual, value)  # string compare: dates are ISO


class FakeIxc:
    def __init__(self) -> None:
        self.tables = seed_tables()
        self.requests: List[Dict[str, object]] = []
        self.fail_next = 0
        self.delay = 0.0
        self.unlocked: set = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, status: int, body: str, content_type: str = "text/x-json") -> None:
                data = body.encode("ascii", "backslashreplace")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self.do_POST()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                resource = self.path.split("/webservice/v1/", 1)[-1].strip("/")
                fake.requests.append({"resource": resource, "headers": dict(self.headers), "body": raw})
                if fake.delay:
                    time.sleep(fake.delay)
                expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._send(401, "<html>401 Authorization Required</html>", "text/html")
                if fake.fail_next > 0:
                    fake.fail_next -= 1
                    return self._send(503, "<html>503 Service Unavailable</html>", "text/html")
                body = json.loads(raw or b"{}")
                status, reply = fake.handle(resource, body, self.headers.get("ixcsoft") == "listar")
                self._send(status, json.dumps(reply, ensure_ascii=True) if not isinstance(reply, str) else reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeIxc":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the webservice ----------------------------------------------------------

    def handle(self, resource: str, body: dict, listing: bool):
        if resource == "get_pix":
            ids = {r["id"] for r in self.tables["fn_areceber"]}
            if body.get("id_areceber") not in ids:
                return 500, ""
            code = f"00020126580014br.gov.bcb.pix0136fake-{body['id_areceber']}6304ABCD"
            return 200, {"type": "success", "gateway": "gerencianet",
                         "pix": {"dadosPix": {"status": "ATIVA", "pixCopiaECola": code},
                                 "qrCode": {"qrcode": code, "imagemQrcode": "iVBORw0KGgo="}}}
        if resource == "desbloqueio_confianca":
            contract = next((r for r in self.tables["cliente_contrato"] if r["id"] == str(body.get("id"))), None)
            if contract is None:
                return 200, {"tipo": "erro", "codigo": "106", "mensagem": "Contrato nao encontrado!"}
            if contract["desbloqueio_confianca"] != "S" or contract["id"] in self.unlocked:
                return 200, {"tipo": "erro", "codigo": "109",
                             "mensagem": "Desbloqueio de confianca ja utilizado neste periodo!"}
            self.unlocked.add(contract["id"])
            contract["status_internet"] = "A"
            return 200, {"tipo": "sucesso", "mensagem": "Desbloqueio efetuado com sucesso!"}
        if resource not in self.tables:
            return 200, {"type": "error", "message": f"Recurso {resource} n\u00e3o est\u00e1 dispon\u00edvel!"}
        if listing:
            return 200, self.listing(resource, body)
        if resource == "su_ticket":
            for field in ("id_cliente", "id_assunto", "titulo", "menssagem"):
                if not body.get(field):
                    return 200, {"type": "error", "message": f"Campo {field} obrigat\u00f3rio!"}
            new_id = str(max(int(r["id"]) for r in self.tables["su_ticket"]) + 1)
            row = {k: str(v) for k, v in body.items()}
            row.update(id=new_id, protocolo=f"2026112{new_id:0>5}", data_criacao="2026-11-25 12:00:00")
            self.tables["su_ticket"].append(row)
            return 200, {"type": "success", "message": "Registro inserido com sucesso!", "id": new_id}
        if resource == "contato":
            for field in ("nome", "fone_celular"):
                if not body.get(field):
                    return 200, {"type": "error", "message": f"Campo {field} obrigat\u00f3rio!"}
            new_id = str(len(self.tables["contato"]) + 101)
            self.tables["contato"].append({**{k: str(v) for k, v in body.items()}, "id": new_id})
            return 200, {"type": "success", "message": "Registro inserido com sucesso!", "id": new_id}
        return 200, {"type": "error", "message": "Opera\u00e7\u00e3o n\u00e3o permitida!"}

    def listing(self, table: str, body: dict):
        rows = self.tables[table]
        field = body["qtype"].split(".", 1)[-1]
        rows = [r for r in rows if _matches(r, field, body.get("oper", "="), body.get("query", ""))]
        for condition in json.loads(body.get("grid_param") or "[]"):
            rows = [r for r in rows if _matches(r, condition["TB"].split(".", 1)[-1], condition["OP"], condition["P"])]
        sort = (body.get("sortname") or f"{table}.id").split(".", 1)[-1]
        numeric = all(r.get(sort, "").replace(".", "").isdigit() for r in rows)
        rows = sorted(rows, key=lambda r: float(r.get(sort) or 0) if numeric else r.get(sort, ""),
                      reverse=body.get("sortorder") == "desc")
        rows = rows[: int(body.get("rp") or 20)]
        if not rows:
            return {"page": "1", "total": "0"}  # IXC omits "registros" when empty
        return {"page": "1", "total": str(len(rows)), "registros": rows}
