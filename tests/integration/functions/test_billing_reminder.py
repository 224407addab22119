"""The README's billing-reminder example, end to end: API, real worker process, sandbox, HTTP, WhatsApp."""

from __future__ import annotations

import json

from chronoflow.store.models import OptOut
from tests.integration.functions.conftest import Billing

BILLING = '''
def run(ctx):
    r = ctx.http.get(ctx.extras["usersUrl"], params={"overdue": "true"})
    users = r.json()
    for user in users:
        ctx.message.send(to=user["phone"], text=f"Olá {user['name']}, sua fatura vence hoje")
    ctx.state.set("count", (ctx.state.get("count") or 0) + len(users))
    ctx.log("sent", len(users))
    return {"sent": len(users), "total": ctx.state.get("count")}
'''

USERS = [{"name": "Ana", "phone": "+55 11 98765-4321"}, {"name": "Bruno", "phone": "+55 21 99876-5432"}]


def test_the_billing_reminder_sends_counts_and_remembers(billing: Billing) -> None:
    """It GETs the overdue users, messages each through the channel, and a second run sees the state."""
    fn = billing.fn
    billing.users.respond("/users", body=json.dumps(USERS), headers={"Content-Type": "application/json"})
    function = fn.upload(BILLING, name="billing-reminder", channelId=billing.channel_id)
    chrono = fn.create_chrono(cron="todo dia às 08:00", timezone="America/Sao_Paulo",
                              functionId=function["id"], extras={"usersUrl": billing.users.url + "/users"})

    fn.run_due(chrono["id"])
    (first,) = fn.stack.runs(chrono["id"])
    assert first.status == "success", first.error_message
    assert first.result == {"sent": 2, "total": 2}
    assert first.logs == ["sent 2"]
    assert first.function_version == 1
    summary = json.loads(first.response_snippet)
    assert summary["httpCount"] == 1 and summary["messageCount"] == 2
    assert [m["to"] for m in summary["messages"]] == ["5511987654321", "5521998765432"]
    request = billing.users.wait_for(1, path="/users")[0]
    assert request.query == {"overdue": ["true"]}
    sent = billing.whatsapp.messages()
    assert [m["text"] for m in sent] == ["Olá Ana, sua fatura vence hoje", "Olá Bruno, sua fatura vence hoje"]
    assert fn.api.get(f"/functions/{function['id']}").json()["state"] == {"count": 2}

    fn.trigger(chrono["id"])  # a second run: the state went on from 2
    runs = sorted(fn.stack.runs(chrono["id"]), key=lambda r: r.started_at)
    assert [r.status for r in runs] == ["success", "success"]
    assert runs[-1].result == {"sent": 2, "total": 4}
    assert fn.api.get(f"/functions/{function['id']}").json()["state"] == {"count": 4}
    assert len(billing.whatsapp.messages()) == 4


def test_inline_function_code_on_the_chrono_and_the_chrono_channel(billing: Billing) -> None:
    """It creates the function from functionCode + functionLimits, and sends through the chrono's channel."""
    fn = billing.fn
    billing.users.respond("/users", body=json.dumps(USERS[:1]), headers={"Content-Type": "application/json"})
    chrono = fn.create_chrono(functionCode=BILLING, functionLimits={"timeoutMs": 4000, "maxMessages": 5},
                              channelId=billing.channel_id, extras={"usersUrl": billing.users.url + "/users"})
    function = fn.api.get(f"/functions/{chrono['functionId']}").json()
    assert function["limits"]["timeoutMs"] == 4000 and function["limits"]["maxMessages"] == 5
    assert function["name"] == "fn-chrono" and function["version"] == 1
    fn.run_due(chrono["id"])
    (run,) = fn.stack.runs(chrono["id"])
    assert run.status == "success", run.error_message
    assert run.result == {"sent": 1, "total": 1}
    assert [m["to"] for m in billing.whatsapp.messages()] == ["5511987654321"]


def test_an_opted_out_number_is_skipped(billing: Billing) -> None:
    """It does not message a number that opted out; the SDK call returns an empty id."""
    fn = billing.fn

    async def opt_out() -> None:
        async with fn.stack.db.session() as session:
            session.add(OptOut(number="5511987654321", source="test"))
    fn.stack.db_run(opt_out())
    billing.users.respond("/users", body=json.dumps(USERS), headers={"Content-Type": "application/json"})
    function = fn.upload(BILLING, channelId=billing.channel_id)
    chrono = fn.create_chrono(functionId=function["id"], extras={"usersUrl": billing.users.url + "/users"})
    fn.run_due(chrono["id"])
    (run,) = fn.stack.runs(chrono["id"])
    assert run.status == "success", run.error_message
    assert json.loads(run.response_snippet)["optedOut"] == ["5511987654321"]
    assert [m["to"] for m in billing.whatsapp.messages()] == ["5521998765432"]


MAYBE_DELIVERED = '''
def run(ctx):
    try:
        ctx.message.send(to="5511987654321", text="Olá Ana")
        return {"error": None}
    except Exception as exc:
        return {"error": str(exc)}
'''


def test_a_send_answered_500_tells_the_function_it_may_have_been_delivered(billing: Billing) -> None:
    """It raises MessageError saying the message may have been delivered when the gateway answered the send
    5xx, sends it only once, and marks it so in the run's messages."""
    fn = billing.fn
    function = fn.upload(MAYBE_DELIVERED, name="maybe", channelId=billing.channel_id)
    chrono = fn.create_chrono(functionId=function["id"])
    billing.whatsapp.fail(500, times=1, path="/api/sendText", processed=True)
    fn.run_due(chrono["id"])
    (run,) = fn.stack.runs(chrono["id"])
    assert run.status == "success", run.error_message
    assert run.result["error"].startswith("the message may have been delivered"), run.result
    assert len(billing.whatsapp.requests("/api/sendText")) == 1 and len(billing.whatsapp.messages()) == 1
    (message,) = json.loads(run.response_snippet)["messages"]
    assert message == {"to": "5511987654321", "error": "may have been delivered", "maybeDelivered": True}
